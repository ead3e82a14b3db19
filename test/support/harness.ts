import { randomBytes } from 'node:crypto';
import type { RecordEntity } from '../../shared/storage/recordEntity';
import { HttpRequest, InvocationContext, type HttpHandler, type HttpResponseInit } from '@azure/functions';
import { inject } from 'vitest';
import { createAppDependencies, type AppDependencies } from '../../shared/appDependencies';
import { loadSettings } from '../../shared/settings';
import type { HttpFunctionDefinition } from '../../functions/runtime/defineFunction';
import { submitInvitations } from '../../functions/submitInvitations';

/**
 * The powers an operator may grant callers over a message and its recipients (intake/invitationPolicy.ts),
 * all granted: for tests of what storage, the CSV and Graph take, not of who may ask for it.
 */
export const MESSAGE_POWERS = {
  INVITE_ALLOW_MEMBER_TYPE: 'true',
  INVITE_ALLOW_CC: 'true',
  INVITE_ALLOW_CUSTOM_MESSAGE: 'true',
} as const;

/** Fresh queue and table names, so that test files never see each other's data. */
export function uniqueResourceNames(prefix = 't') {
  const suffix = randomBytes(6).toString('hex');
  return { queueName: `${prefix}-${suffix}`, tableName: `${prefix}${suffix}`, rostersContainer: `${prefix}-rosters-${suffix}` };
}

/** The app's real dependencies against the run's Azurite, with extra settings as the environment would give them. */
export async function createTestDependencies(env: Record<string, string> = {}): Promise<AppDependencies> {
  const settings = loadSettings({ AzureWebJobsStorage: inject('azuriteConnectionString'), ...env });
  return createAppDependencies(settings, uniqueResourceNames());
}

export interface TestResponse {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

/** Invokes an HTTP function's real handler the way the host would, and reads the response as a client would. */
export async function invokeHttp(
  definition: HttpFunctionDefinition,
  deps: AppDependencies,
  request: { method?: string; path: string; body?: string | Uint8Array; headers?: Record<string, string>; params?: Record<string, string> },
): Promise<TestResponse> {
  const url = new URL(request.path, 'http://localhost:7071');
  const httpRequest = new HttpRequest({
    method: request.method ?? 'GET',
    url: url.toString(),
    headers: request.headers ?? {},
    query: Object.fromEntries(url.searchParams.entries()),
    params: request.params ?? {},
    ...(request.body !== undefined ? { body: typeof request.body === 'string' ? { string: request.body } : { bytes: request.body } } : {}),
  });
  const context = new InvocationContext({ functionName: definition.name, logHandler: () => undefined });
  const handler: HttpHandler = definition.handler(deps);
  const response = (await handler(httpRequest, context)) as HttpResponseInit;
  const text = response.jsonBody !== undefined ? JSON.stringify(response.jsonBody) : typeof response.body === 'string' ? response.body : '';
  const headers = new Headers(response.headers as Record<string, string> | undefined);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status ?? 200, headers, text, json };
}

export const REDIRECT_URL = 'https://myapps.microsoft.com';

export function invitationFor(email: string, extra: Record<string, unknown> = {}) {
  return { invitedUserEmailAddress: email, inviteRedirectUrl: REDIRECT_URL, ...extra };
}

/** POST /api/invitations through the real handler. A non-string body is sent as JSON. */
export async function submit(
  deps: AppDependencies,
  body: unknown,
  options: { contentType?: string; headers?: Record<string, string> } = {},
): Promise<TestResponse> {
  const raw = typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body);
  return invokeHttp(submitInvitations, deps, {
    method: 'POST',
    path: '/api/invitations',
    body: raw,
    headers: { 'content-type': options.contentType ?? 'application/json', ...options.headers },
  });
}

/** Every message on the test's queue, decoded, without consuming them. */
export async function queuedMessages(deps: AppDependencies): Promise<Array<{ id: string; batchId: string }>> {
  const peeked = await deps.queue.queue.peekMessages({ numberOfMessages: 32 });
  const count = (await deps.queue.queue.getProperties()).approximateMessagesCount ?? 0;
  if (count > 32) throw new Error(`The test queue holds ${count} messages; keep test queues shallow.`);
  return peeked.peekedMessageItems.map((item) => JSON.parse(Buffer.from(item.messageText, 'base64').toString('utf8')));
}

export async function queueLength(deps: AppDependencies): Promise<number> {
  return (await deps.queue.queue.getProperties()).approximateMessagesCount ?? 0;
}

/** How many rows the test's table holds (records, index and batch rows alike). */
export async function tableRowCount(deps: AppDependencies): Promise<number> {
  let count = 0;
  for await (const _ of deps.store.layout.client.listEntities({ queryOptions: { select: ['RowKey'] } })) count += 1;
  return count;
}

/** Empties the test's queue (tests that submit many people keep the queue shallow for Azurite). */
export async function clearQueue(deps: AppDependencies): Promise<void> {
  await deps.queue.queue.clearMessages();
}

/**
 * Writes fields of a person's record as the worker does (through the store, so that the person's
 * batch follows), standing in for the outcome of a Graph call the test did not make.
 */
export async function writeRecord(deps: AppDependencies, id: string, fields: Partial<RecordEntity>): Promise<void> {
  const stored = await deps.store.getById(id);
  if (!stored) throw new Error(`no record ${id}`);
  await deps.store.replace({ ...stored.entity, ...fields, updatedAt: new Date().toISOString() });
}
