import { randomUUID } from 'node:crypto';
import { InvocationContext, type LogHandler, type StorageQueueHandler } from '@azure/functions';
import type { DequeuedMessageItem, QueueClient } from '@azure/storage-queue';

/**
 * The Functions host's queue trigger, for the local host and the tests (storage extension 5.x
 * semantics, read from host.json `extensions.queues`):
 * - base64 messages (messageEncoding), JSON given to the handler as an object;
 * - up to `batchSize` messages at a time, fetching more when in-flight work falls to `newBatchThreshold`;
 * - polling with randomized exponential backoff from 100 ms up to `maxPollingInterval` when idle;
 * - a message is leased for 10 minutes and the lease renewed while the handler runs;
 * - success deletes it; a failure makes it visible again after `visibilityTimeout`, and at
 *   `maxDequeueCount` it is copied to `<queue>-poison` and deleted (so is undecodable base64).
 */

export interface QueueTriggerSettings {
  batchSize: number;
  newBatchThreshold: number;
  maxPollingIntervalMs: number;
  visibilityTimeoutMs: number;
  maxDequeueCount: number;
  messageEncoding: 'base64' | 'none';
  /**
   * How long a received message stays invisible while its handler runs (renewed meanwhile). The
   * host uses 10 minutes, which is also how long a crashed host's messages stay hidden; tests of
   * crashes shorten it (LOCAL_QUEUE_MESSAGE_LEASE_SECONDS).
   */
  messageLeaseSeconds?: number;
}

export interface QueueListenerOptions extends QueueTriggerSettings {
  functionName: string;
  queue: QueueClient;
  poisonQueue: QueueClient;
  handler: StorageQueueHandler;
  logHandler: LogHandler;
}

const DEFAULT_MESSAGE_LEASE_SECONDS = 600;
const MIN_POLLING_INTERVAL_MS = 100;

export class QueueListener {
  private running = false;
  private readonly inFlight = new Set<Promise<void>>();
  private wakeUp: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  /** Invocations that have finished (for tests and statistics). */
  completed = 0;
  failed = 0;

  private readonly leaseSeconds: number;

  constructor(private readonly options: QueueListenerOptions) {
    this.leaseSeconds = options.messageLeaseSeconds ?? DEFAULT_MESSAGE_LEASE_SECONDS;
  }

  /** No invocation is running. */
  idle(): boolean {
    return this.inFlight.size === 0;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.poll();
  }

  /** Stops taking messages and waits for the ones in flight: a graceful shutdown. */
  async stop(): Promise<void> {
    this.running = false;
    this.wakeUp?.();
    await this.loop;
    await Promise.all([...this.inFlight]);
  }

  private async poll(): Promise<void> {
    let idleDelay = MIN_POLLING_INTERVAL_MS;
    while (this.running) {
      if (this.inFlight.size > this.options.newBatchThreshold) {
        await Promise.race([...this.inFlight, this.sleep(this.options.maxPollingIntervalMs)]);
        continue;
      }
      let messages: DequeuedMessageItem[] = [];
      try {
        const wanted = Math.min(32, this.options.batchSize);
        messages = (await this.options.queue.receiveMessages({ numberOfMessages: wanted, visibilityTimeout: this.leaseSeconds }))
          .receivedMessageItems;
      } catch (error) {
        this.log('warning', `Polling ${this.options.queue.name} failed (${(error as Error).message}); retrying.`);
      }
      if (messages.length === 0) {
        await this.sleep(idleDelay * (0.8 + Math.random() * 0.4));
        idleDelay = Math.min(idleDelay * 2, this.options.maxPollingIntervalMs);
        continue;
      }
      idleDelay = MIN_POLLING_INTERVAL_MS;
      for (const message of messages) {
        const invocation = this.invoke(message).finally(() => this.inFlight.delete(invocation));
        this.inFlight.add(invocation);
      }
    }
  }

  private async invoke(message: DequeuedMessageItem): Promise<void> {
    const { queue, poisonQueue, maxDequeueCount } = this.options;
    const decoded = this.decode(message.messageText);
    if (decoded === undefined) {
      this.log('error', `Message ${message.messageId} on ${queue.name} is not valid base64; moved to ${poisonQueue.name}.`);
      await this.moveToPoison(message);
      return;
    }
    let popReceipt = message.popReceipt;
    const renewal = setInterval(
      () => {
        queue
          .updateMessage(message.messageId, popReceipt, undefined, this.leaseSeconds)
          .then((renewed) => (popReceipt = renewed.popReceipt ?? popReceipt))
          .catch(() => undefined);
      },
      (this.leaseSeconds * 1000) / 2,
    );
    const context = new InvocationContext({
      invocationId: randomUUID(),
      functionName: this.options.functionName,
      logHandler: this.options.logHandler,
      triggerMetadata: {
        queueTrigger: decoded.text,
        dequeueCount: message.dequeueCount,
        id: message.messageId,
        insertionTime: message.insertedOn.toISOString(),
        expirationTime: message.expiresOn.toISOString(),
        nextVisibleTime: message.nextVisibleOn.toISOString(),
        popReceipt: message.popReceipt,
      },
    });
    try {
      await this.options.handler(decoded.value, context);
      clearInterval(renewal);
      this.completed += 1;
      await queue.deleteMessage(message.messageId, popReceipt);
    } catch (error) {
      clearInterval(renewal);
      this.failed += 1;
      this.log('error', `Executed '${this.options.functionName}' (Failed, Id=${context.invocationId}): ${(error as Error).message}`);
      if (message.dequeueCount >= maxDequeueCount) {
        this.log('warning', `Message ${message.messageId} has reached maxDequeueCount ${maxDequeueCount}; moved to ${poisonQueue.name}.`);
        await this.moveToPoison({ ...message, popReceipt });
      } else {
        await queue
          .updateMessage(message.messageId, popReceipt, undefined, Math.ceil(this.options.visibilityTimeoutMs / 1000))
          .catch(() => undefined);
      }
    }
  }

  private decode(text: string): { text: string; value: unknown } | undefined {
    let decodedText = text;
    if (this.options.messageEncoding === 'base64') {
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) return undefined;
      decodedText = Buffer.from(text, 'base64').toString('utf8');
    }
    try {
      return { text: decodedText, value: JSON.parse(decodedText) };
    } catch {
      return { text: decodedText, value: decodedText };
    }
  }

  private async moveToPoison(message: DequeuedMessageItem): Promise<void> {
    await this.options.poisonQueue.createIfNotExists();
    await this.options.poisonQueue.sendMessage(message.messageText);
    await this.options.queue.deleteMessage(message.messageId, message.popReceipt).catch(() => undefined);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private log(level: 'information' | 'warning' | 'error', message: string): void {
    this.options.logHandler(level, `[${this.options.functionName}] ${message}`);
  }
}
