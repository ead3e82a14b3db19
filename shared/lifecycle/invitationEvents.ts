import { createHash } from 'node:crypto';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import type { QueueClient } from '@azure/storage-queue';
import pRetry from 'p-retry';
import { z } from 'zod';
import {
  type Log,
  hostKeyOf,
  isAllowedHost,
  maskEmailAddress,
  signBody,
  SIGNATURE_HEADER,
  type Invitation,
  FINAL_STATUSES,
  type InvitationStatus,
} from '../core';
import { encodeQueueMessage, type RecordEntity } from '../storage';
import { externalOnlyLookup, isInternalAddress } from './receiverAddress';
import type { PauseState } from '../graph';

/**
 * Tells the caller what became of each person: every status change below is POSTed to the
 * person's callbackUrl (or NOTIFY_URL) as a CloudEvents 1.0 JSON event, signed like the intake's
 * webhooks (`X-Signature: t=…,v1=…`). Events wait in a queue of their own, so a slow or dead
 * receiver never holds up an invitation; delivery is at least once, with a backoff that doubles,
 * and an event still refused after NOTIFY_MAX_ATTEMPTS goes to the events' poison queue. Every
 * event has an id derived from the change, so a repeated delivery has the same id.
 *
 * A caller's callbackUrl is checked again at every delivery: its host and port against
 * CALLBACK_ALLOWED_HOSTS as it is then, and the address it resolves to against the internal
 * networks (receiverAddress.ts). Each receiver with its own secret (CALLBACK_SECRETS) gets events
 * signed with it alone, so that no receiver can forge another's.
 */

export const EVENTS_QUEUE = 'invitation-events';
/** Every final status is news to the caller: each one is told (Processing and Queued are not). */
export const EVENT_STATUSES: ReadonlySet<InvitationStatus> = FINAL_STATUSES;
export const EVENT_SOURCE = '/entra-invite-pipeline/invitations';
export const PIPELINE_EVENT_SOURCE = '/entra-invite-pipeline/sending';
const EVENT_TYPE_PREFIX = 'com.entra-invite-pipeline.invitation.';
const SENDING_EVENT_TYPE_PREFIX = 'com.entra-invite-pipeline.sending.';
const DELIVERY_TIMEOUT_MS = 10_000;
const MAX_RETRY_WAIT_SECONDS = 3_600;
const MAX_ERROR_MESSAGE = 1_000;

export const invitationEventSchema = z.object({
  specversion: z.literal('1.0'),
  id: z.string(),
  source: z.string(),
  type: z.string(),
  subject: z.string(),
  time: z.string(),
  datacontenttype: z.literal('application/json'),
  data: z.object({
    id: z.string(),
    batchId: z.string(),
    email: z.string(),
    externalId: z.string().optional(),
    status: z.string(),
    error: z.object({ code: z.string(), message: z.string(), httpStatus: z.number().optional() }).optional(),
    acceptedAt: z.string().optional(),
    expiredAction: z.string().optional(),
    remindersSent: z.number().optional(),
    /** A leaver: when they left, and when LEAVER_ACTION is due for their guest. */
    leftAt: z.string().optional(),
    leaverActionDueAt: z.string().optional(),
  }),
});
export type InvitationEvent = z.infer<typeof invitationEventSchema>;

/**
 * The pipeline's own news for the operator's receiver (NOTIFY_URL): sending paused or resumed
 * (graph/sendingPause.ts), with the reason in words.
 */
export const pipelineEventSchema = z.object({
  specversion: z.literal('1.0'),
  id: z.string(),
  source: z.literal(PIPELINE_EVENT_SOURCE),
  type: z.string(),
  subject: z.string(),
  time: z.string(),
  datacontenttype: z.literal('application/json'),
  data: z.object({
    status: z.enum(['Paused', 'Resumed']),
    kind: z.enum(['tenant', 'operator']),
    reason: z.string(),
    since: z.string(),
    by: z.string().optional(),
    code: z.string().optional(),
    firstRequestId: z.string().optional(),
    firstRefusedAt: z.string().optional(),
  }),
});
export type PipelineEvent = z.infer<typeof pipelineEventSchema>;

const deliveryMessageSchema = z.object({
  target: z.string(),
  event: z.union([invitationEventSchema, pipelineEventSchema]),
  attempt: z.number().int().positive(),
});
type DeliveryMessage = z.infer<typeof deliveryMessageSchema>;

export interface InvitationEventsOptions {
  /** NOTIFY_URL: where events go for people whose submission named no callbackUrl (the operator's own receiver). */
  notifyUrl?: string;
  /** NOTIFY_HMAC_SECRET: one, or two during a rotation (settings.ts requires it whenever events can be sent). */
  secrets: readonly string[];
  /** CALLBACK_SECRETS: a receiver's own secrets, by `host` or `host:port`. */
  receiverSecrets?: Readonly<Record<string, readonly string[]>>;
  /** CALLBACK_ALLOWED_HOSTS, checked again at every delivery to a callbackUrl. */
  callbackAllowedHosts?: readonly string[];
  /** CALLBACK_ALLOW_PRIVATE: callbacks may reach internal addresses (local development only). @default false */
  allowPrivateAddresses?: boolean;
  maxAttempts: number;
  firstRetryMs: number;
}

export class InvitationEvents {
  constructor(
    readonly queue: QueueClient,
    readonly poisonQueue: QueueClient,
    private readonly options: InvitationEventsOptions,
  ) {}

  async ensureQueues(): Promise<void> {
    await Promise.all([this.queue.createIfNotExists(), this.poisonQueue.createIfNotExists()]);
  }

  /**
   * Queues the event of a record's status, when the status is one callers hear of and the person
   * has somewhere to hear it. Called after every write of a record (and again when a redelivered
   * message finds it final): the same write gives the same event id, so a repeat is recognisable.
   */
  async announce(entity: RecordEntity): Promise<void> {
    const message = this.messageFor(entity);
    if (!message) return;
    // A storage blip should not lose the event: a few quick retries before the caller hears of it.
    await pRetry(() => this.enqueue(message.message), { retries: 4, minTimeout: 200, maxTimeout: 2_000 });
  }

  /**
   * The events queue's message for a record's status (its event id, and the message as queued), or
   * undefined when it is not a status callers hear of, or the person has nowhere to hear it.
   */
  messageFor(entity: RecordEntity): { id: string; message: string } | undefined {
    if (!EVENT_STATUSES.has(entity.status) || this.options.secrets.length === 0) return undefined;
    const target = (JSON.parse(entity.request) as Invitation).callbackUrl ?? this.options.notifyUrl;
    if (!target) return undefined;
    const event = eventOf(entity);
    return { id: event.id, message: encodeQueueMessage({ target, event, attempt: 1 } satisfies DeliveryMessage) };
  }

  /** Queues one message made by messageFor. */
  async enqueue(message: string): Promise<void> {
    await this.queue.sendMessage(message);
  }

  /** Sending paused or resumed: told to NOTIFY_URL, the operator's own receiver (callers hear of their people only). */
  async announcePause(change: 'paused' | 'resumed', state: PauseState): Promise<void> {
    const target = this.options.notifyUrl;
    if (!target || this.options.secrets.length === 0) return;
    const { kind, reason, since, by, code, firstRequestId, firstRefusedAt } = state;
    const event: PipelineEvent = {
      specversion: '1.0',
      id: uuidOf(`${kind}|${since}|${change}`),
      source: PIPELINE_EVENT_SOURCE,
      type: `${SENDING_EVENT_TYPE_PREFIX}${change}`,
      subject: kind,
      time: new Date().toISOString(),
      datacontenttype: 'application/json',
      data: {
        status: change === 'paused' ? 'Paused' : 'Resumed',
        kind,
        reason,
        since,
        ...(by ? { by } : {}),
        ...(code ? { code } : {}),
        ...(firstRequestId ? { firstRequestId } : {}),
        ...(firstRefusedAt ? { firstRefusedAt } : {}),
      },
    };
    await this.queue.sendMessage(encodeQueueMessage({ target, event, attempt: 1 }));
  }

  /**
   * The events queue's handler: one POST. A refusal or a failure queues the event again after a
   * doubling wait (so the message in hand is done), or moves it to poison after the last attempt.
   */
  async deliver(rawMessage: unknown, log: Log): Promise<'delivered' | 'retrying' | 'poisoned'> {
    const message = deliveryMessageSchema.parse(rawMessage);
    const { event, target, attempt } = message;
    const body = JSON.stringify(event);
    const who =
      'email' in event.data
        ? `Event ${event.id} (${event.data.status} of ${event.data.id}, ${maskEmailAddress(event.data.email)})`
        : `Event ${event.id} (sending ${event.data.status.toLowerCase()}, ${event.data.kind})`;
    let failure: string;
    try {
      const status = await this.post(target, body);
      if (status >= 200 && status < 300) {
        log.info(`${who}: delivered to ${new URL(target).host} (attempt ${attempt}).`);
        return 'delivered';
      }
      failure = `HTTP ${status}`;
    } catch (error) {
      if (error instanceof CallbackNotAllowedError) {
        // The operator took the host off the list since: the event is kept (poison), never sent there.
        await this.poisonQueue.sendMessage(encodeQueueMessage(message));
        log.error(`${who}: not delivered: ${error.message}; moved to ${this.poisonQueue.name}.`);
        return 'poisoned';
      }
      failure = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    }
    if (attempt >= this.options.maxAttempts) {
      await this.poisonQueue.sendMessage(encodeQueueMessage(message));
      log.error(
        `${who}: not delivered to ${new URL(target).host} after ${attempt} attempts (${failure}); moved to ${this.poisonQueue.name}.`,
      );
      return 'poisoned';
    }
    const waitSeconds = Math.min(MAX_RETRY_WAIT_SECONDS, (this.options.firstRetryMs / 1000) * 2 ** (attempt - 1));
    await this.queue.sendMessage(encodeQueueMessage({ ...message, attempt: attempt + 1 }), { visibilityTimeout: Math.ceil(waitSeconds) });
    log.warn(`${who}: delivery to ${new URL(target).host} failed (${failure}); attempt ${attempt + 1} in ${Math.ceil(waitSeconds)} s.`);
    return 'retrying';
  }

  /** One signed POST of `body` to `target`, within the rules of that moment; the receiver's HTTP status. */
  private async post(target: string, body: string): Promise<number> {
    const url = new URL(target);
    const { notifyUrl, callbackAllowedHosts = [], allowPrivateAddresses = false } = this.options;
    // NOTIFY_URL is the operator's own choice (a receiver inside their network included); a
    // callbackUrl is a caller's, checked again now.
    const callback = target !== notifyUrl;
    if (callback && !isAllowedHost(url, callbackAllowedHosts))
      throw new CallbackNotAllowedError(`${url.host} is no longer in CALLBACK_ALLOWED_HOSTS`);
    const guarded = callback && !allowPrivateAddresses;
    const literal = url.hostname.replace(/^\[|\]$/g, '');
    if (guarded && isIP(literal) && isInternalAddress(literal)) throw new Error(`${url.host} is an internal address`);
    return postOnce(
      url,
      { 'content-type': 'application/cloudevents+json; charset=utf-8', [SIGNATURE_HEADER]: signBody(this.secretsFor(url), body) },
      body,
      guarded ? externalOnlyLookup : undefined,
    );
  }

  /** The receiver's own secrets (CALLBACK_SECRETS), else NOTIFY_HMAC_SECRET's. */
  private secretsFor(url: URL): readonly string[] {
    const receivers = this.options.receiverSecrets ?? {};
    const key = hostKeyOf(url, Object.keys(receivers));
    return key ? receivers[key]! : this.options.secrets;
  }
}

class CallbackNotAllowedError extends Error {
  override readonly name = 'CallbackNotAllowedError';
}

/** The events' own POST: no redirects (a redirect could lead a signed event anywhere), no pooling. */
function postOnce(url: URL, headers: Record<string, string>, body: string, lookup: typeof externalOnlyLookup | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = httpsRequest(
      url,
      { method: 'POST', headers: { ...headers, 'content-length': Buffer.byteLength(body) }, agent: false, ...(lookup ? { lookup } : {}) },
      (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      },
    );
    request.setTimeout(DELIVERY_TIMEOUT_MS, () => request.destroy(new Error(`no answer within ${DELIVERY_TIMEOUT_MS} ms`)));
    request.on('error', reject);
    request.end(body);
  });
}

/** The event of a record's current status. Never the redemption URL: it is a credential. */
export function eventOf(entity: RecordEntity): InvitationEvent {
  const error = entity.errorCode
    ? {
        code: entity.errorCode,
        message: (entity.errorMessage ?? '').slice(0, MAX_ERROR_MESSAGE),
        ...(entity.errorHttpStatus !== undefined ? { httpStatus: entity.errorHttpStatus } : {}),
      }
    : undefined;
  return {
    specversion: '1.0',
    id: eventId(entity),
    source: EVENT_SOURCE,
    type: `${EVENT_TYPE_PREFIX}${entity.status.toLowerCase()}`,
    subject: entity.id,
    time: entity.updatedAt,
    datacontenttype: 'application/json',
    data: {
      id: entity.id,
      batchId: entity.batchId,
      email: entity.email,
      ...(entity.externalId ? { externalId: entity.externalId } : {}),
      status: entity.status,
      ...(error && (entity.status === 'Failed' || entity.status === 'DeadLettered') ? { error } : {}),
      ...(entity.acceptedAt ? { acceptedAt: entity.acceptedAt } : {}),
      ...(entity.expiredAction ? { expiredAction: entity.expiredAction } : {}),
      ...(entity.remindersSent ? { remindersSent: entity.remindersSent } : {}),
      ...(entity.status === 'Left' && entity.leftAt ? { leftAt: entity.leftAt } : {}),
      ...(entity.status === 'Left' && entity.leaverActionDueAt ? { leaverActionDueAt: entity.leaverActionDueAt } : {}),
    },
  };
}

/** One id per change of a record: the same write announced twice gives the same id. */
function eventId(entity: RecordEntity): string {
  return uuidOf(`${entity.id}|${entity.status}|${entity.updatedAt}`);
}

function uuidOf(text: string): string {
  const hex = createHash('sha256').update(text).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}
