import type { QueueClient } from '@azure/storage-queue';
import { z } from 'zod';

/**
 * One message per invitation on the `invitations` queue. It carries only the record's id (and the
 * batch that queued it): the worker reads the invitation from the record it must claim anyway, so
 * a message is ~150 bytes, far below the 64 KiB limit, whatever the invitation holds.
 */

export const INVITATIONS_QUEUE = 'invitations';
export const poisonQueueName = (queueName: string) => `${queueName}-poison`;

export const invitationMessageSchema = z.object({
  id: z.string().regex(/^[0-9a-f]{32}$/),
  batchId: z.string().min(1),
  queuedAt: z.string(),
  /** How often this message found its person held by another invocation (see InvitationWorker). */
  deferrals: z.number().int().nonnegative().optional(),
  /**
   * Handed back for the follow-up steps alone (an email waiting for the mailbox, a group add for
   * the budget): the final status was told to its batch and caller already, so it is not again.
   */
  followUpOnly: z.boolean().optional(),
});
export type InvitationMessage = z.infer<typeof invitationMessageSchema>;

/**
 * The Functions queue trigger decodes base64 by default (host.json `messageEncoding`), and the JS
 * SDK sends text as-is: so we encode, or the host would move every message straight to poison.
 */
export function encodeQueueMessage(message: unknown): string {
  return Buffer.from(JSON.stringify(message), 'utf8').toString('base64');
}

export function decodeQueueMessage(text: string): unknown {
  return JSON.parse(Buffer.from(text, 'base64').toString('utf8'));
}

export class InvitationQueue {
  constructor(
    readonly queue: QueueClient,
    /** Where the Functions host moves a message at maxDequeueCount (`<queue>-poison`). */
    readonly poisonQueue: QueueClient,
  ) {}

  async ensureQueues(): Promise<void> {
    await Promise.all([this.queue.createIfNotExists(), this.poisonQueue.createIfNotExists()]);
  }

  /**
   * Messages in the queue and its poison queue, visible or not. Azure Storage's count is never
   * lower than the real one, so zero means that no message is waiting, in flight or delayed.
   */
  async approximateDepth(): Promise<number> {
    const [main, poison] = await Promise.all([this.queue.getProperties(), this.poisonQueue.getProperties()]);
    return (main.approximateMessagesCount ?? 0) + (poison.approximateMessagesCount ?? 0);
  }

  async send(message: InvitationMessage, visibilityTimeoutSeconds?: number): Promise<void> {
    await this.queue.sendMessage(encodeQueueMessage(invitationMessageSchema.parse(message)), {
      ...(visibilityTimeoutSeconds ? { visibilityTimeout: Math.ceil(visibilityTimeoutSeconds) } : {}),
    });
  }
}
