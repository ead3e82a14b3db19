import type { AccessToken } from '@azure/identity';
import { z } from 'zod';
import { fetchGraph, GraphCallError, graphCallErrorFrom, graphCallErrorFromResponse } from './graphCallError';
import type { GraphEndpoints } from './graphCaller';
import type { ReadBudget } from './readBudget';

/**
 * Graph beyond the invitation itself: read guests' redemption state in JSON batches, look a person
 * up by email, disable or delete a guest, add them to a group, send our own invitation email.
 * Reads need User.Read.All; disabling User.EnableDisableAccount.All with User.Read.All (or
 * User.ReadWrite.All); deleting User.DeleteRestore.All (a deleted user can be restored for 30
 * days); groups GroupMember.ReadWrite.All; mail Mail.Send (docs/deploy.md). No retries here: callers decide.
 */

/** What we read of a user. */
export const guestSchema = z
  .object({
    id: z.string(),
    userType: z.string().nullish(),
    externalUserState: z.string().nullish(),
    externalUserStateChangeDateTime: z.string().nullish(),
    accountEnabled: z.boolean().nullish(),
    creationType: z.string().nullish(),
    createdDateTime: z.string().nullish(),
  })
  .loose();
export type Guest = z.infer<typeof guestSchema>;

export type GuestRead =
  | { kind: 'found'; guest: Guest }
  /** 404: the user no longer exists (deleted outside the pipeline). */
  | { kind: 'deleted' }
  | { kind: 'failed'; error: GraphCallError };

const sentItemsSchema = z.object({ value: z.array(z.object({ id: z.string() }).passthrough()) });

const GUEST_FIELDS = 'id,userType,externalUserState,externalUserStateChangeDateTime,accountEnabled,creationType,createdDateTime';
/** Graph's limit of requests in one JSON batch. */
export const MAX_BATCH_REQUESTS = 20;
const CALL_TIMEOUT_MS = 30_000;

/** What Graph says beside an identity write: x-ms-throttle-limit-percentage, sent above 80% of a limit (0.8 = 80%). */
export interface WriteAnswer {
  throttleLimitPercentage?: number;
}

const usersListSchema = z.object({ value: z.array(guestSchema) });

/** What a lookup by email found: the user, nobody, or Graph's failure for that address alone. */
export type EmailLookup = { kind: 'found'; user: Guest } | { kind: 'none' } | { kind: 'failed'; error: GraphCallError };

/** `GET /users?$filter=…` for one address (see findByEmail). */
function userLookupPath(email: string): string {
  const quoted = email.replace(/'/g, "''");
  const filter = [
    `mail eq '${quoted}'`,
    `userPrincipalName eq '${quoted}'`,
    `otherMails/any(x:x eq '${quoted}')`,
    `proxyAddresses/any(x:x eq 'SMTP:${quoted}')`,
  ].join(' or ');
  return `/users?${new URLSearchParams({ $filter: filter, $select: GUEST_FIELDS })}`;
}

/** A batch's answer missing, or without the body its status promises. */
function unexpected(status: number): GraphCallError {
  return new GraphCallError(`Graph answered a request inside $batch with ${status || 'nothing'}.`, {
    kind: 'transient',
    code: 'InvalidBatchAnswer',
  });
}

const batchAnswerSchema = z.object({
  responses: z.array(
    z.object({ id: z.string(), status: z.number(), headers: z.record(z.string(), z.string()).optional(), body: z.unknown().optional() }),
  ),
});

export class GraphDirectoryClient {
  constructor(
    private readonly endpoints: Pick<GraphEndpoints, 'versionUrl'>,
    /** A token for Graph (the invitations client's: one credential per process). */
    private readonly token: (timeoutMs: number) => Promise<AccessToken>,
    /** The app's read budget: every user read takes one unit (none: unpaced). */
    private readonly reads?: ReadBudget,
  ) {}

  /**
   * Reads up to 20 users in one `POST /$batch`. Each answer stands alone: a 404 is a deleted user,
   * a 429 inside the batch is that user's failure (with its own Retry-After). Throws a
   * GraphCallError when the batch itself fails.
   */
  async readGuests(userIds: readonly string[], moreFields: readonly string[] = []): Promise<Map<string, GuestRead>> {
    const select = [GUEST_FIELDS, ...moreFields].join(',');
    const answers = await this.batch(userIds.map((id) => `/users/${encodeURIComponent(id)}?$select=${select}`));
    const reads = new Map<string, GuestRead>();
    answers.forEach((answer, index) => {
      const guest = guestSchema.safeParse(answer.body);
      if (answer.status === 200 && guest.success) reads.set(userIds[index]!, { kind: 'found', guest: guest.data });
      else if (answer.status === 404) reads.set(userIds[index]!, { kind: 'deleted' });
      else reads.set(userIds[index]!, { kind: 'failed', error: answer.error ?? unexpected(answer.status) });
    });
    return reads;
  }

  /**
   * The user an email already belongs to, by the query Entra's documentation gives for "is this
   * person already in the directory": mail, userPrincipalName, otherMails and proxyAddresses. Each
   * clause is supported by default (Graph's filter table for users), so it is asked without
   * ConsistencyLevel or $count: as an advanced query the answer would come from the eventually
   * consistent index, which may not know yet a guest created moments before a crash.
   */
  async findByEmail(email: string): Promise<Guest | undefined> {
    await this.reads?.take(1);
    const answer = usersListSchema.safeParse(await this.call('GET', userLookupPath(email)));
    if (!answer.success)
      throw new GraphCallError('Graph answered the user lookup with an unexpected body.', { kind: 'transient', code: 'InvalidListAnswer' });
    return answer.data.value[0];
  }

  /** The same lookup for up to 20 addresses in one `$batch`: each answered alone (a 429 is that address's). */
  async findByEmails(emails: readonly string[]): Promise<Map<string, EmailLookup>> {
    const answers = await this.batch(emails.map(userLookupPath));
    const found = new Map<string, EmailLookup>();
    answers.forEach((answer, index) => {
      const list = usersListSchema.safeParse(answer.body);
      const user = list.success ? list.data.value[0] : undefined;
      if (answer.status === 200 && list.success) found.set(emails[index]!, user ? { kind: 'found', user } : { kind: 'none' });
      else found.set(emails[index]!, { kind: 'failed', error: answer.error ?? unexpected(answer.status) });
    });
    return found;
  }

  /** A GET of one of the tenant's own resources (a policy, the organization): one unit of the read budget. */
  async readTenant(path: string): Promise<unknown> {
    await this.reads?.take(1);
    return this.call('GET', path);
  }

  /**
   * Up to 20 GETs in one `POST /$batch`, each read costing one unit. Each answer stands alone, with
   * its status and, when it failed, its error (a 429 with its own Retry-After). Throws a
   * GraphCallError when the batch itself fails.
   */
  private async batch(paths: readonly string[]): Promise<{ status: number; body: unknown; error?: GraphCallError }[]> {
    if (paths.length > MAX_BATCH_REQUESTS) throw new Error(`At most ${MAX_BATCH_REQUESTS} requests per batch.`);
    await this.reads?.take(paths.length);
    const requests = paths.map((url, index) => ({ id: String(index), method: 'GET', url }));
    const answer = batchAnswerSchema.safeParse(await this.call('POST', '/$batch', { requests }));
    if (!answer.success)
      throw new GraphCallError('Graph answered $batch with an unexpected body.', { kind: 'transient', code: 'InvalidBatchAnswer' });
    const answers = paths.map(() => ({ status: 0, body: undefined as unknown }));
    for (const response of answer.data.responses) {
      const index = Number(response.id);
      if (!(index in answers)) continue;
      const headers = response.headers ?? {};
      const header = (name: string) => Object.entries(headers).find(([key]) => key.toLowerCase() === name)?.[1];
      const ok = response.status >= 200 && response.status < 300;
      answers[index] = {
        status: response.status,
        body: response.body,
        ...(ok || response.status === 404 ? {} : { error: graphCallErrorFrom(response.status, header, response.body) }),
      };
    }
    return answers;
  }

  /** Sets profile properties of a user (`PATCH /users/{id}`: User.ReadWrite.All for app-only writes of these). */
  async updateProfile(userId: string, profile: Record<string, string>): Promise<WriteAnswer> {
    return this.write('PATCH', `/users/${encodeURIComponent(userId)}`, profile);
  }

  async disable(userId: string): Promise<WriteAnswer> {
    return this.write('PATCH', `/users/${encodeURIComponent(userId)}`, { accountEnabled: false });
  }

  /** A returning leaver's guest, signing in again (the same permission as disabling it). */
  async enable(userId: string): Promise<WriteAnswer> {
    return this.write('PATCH', `/users/${encodeURIComponent(userId)}`, { accountEnabled: true });
  }

  async delete(userId: string): Promise<WriteAnswer> {
    return this.write('DELETE', `/users/${encodeURIComponent(userId)}`);
  }

  /** Takes a user out of a group (`DELETE /groups/{id}/members/{userId}/$ref`, GroupMember.ReadWrite.All). */
  async removeGroupMember(groupId: string, userId: string): Promise<WriteAnswer> {
    return this.write('DELETE', `/groups/${encodeURIComponent(groupId)}/members/${encodeURIComponent(userId)}/$ref`);
  }

  /**
   * Adds a user to a group (`POST /groups/{id}/members/$ref`). Throws Graph's error: a 400 "One or
   * more added object references already exist" for a member, a 404 naming the group or the user.
   */
  async addGroupMember(groupId: string, userId: string): Promise<WriteAnswer> {
    // The reference names the user in this cloud's Graph (graph.microsoft.us, microsoftgraph.chinacloudapi.cn …).
    return this.write('POST', `/groups/${encodeURIComponent(groupId)}/members/$ref`, {
      '@odata.id': `${this.endpoints.versionUrl}/directoryObjects/${encodeURIComponent(userId)}`,
    });
  }

  /** Sends a MIME message from a mailbox (`POST /users/{sender}/sendMail`, the MIME base64-encoded as Graph takes it). */
  async sendMimeMail(sender: string, mime: string): Promise<void> {
    await this.call('POST', `/users/${encodeURIComponent(sender)}/sendMail`, Buffer.from(mime, 'utf8').toString('base64'), {
      'content-type': 'text/plain',
    });
  }

  /**
   * Whether the sender's Sent Items hold a message with this Message-ID
   * (`GET /users/{sender}/mailFolders/sentitems/messages?$filter=internetMessageId eq '…'`,
   * Mail.ReadBasic.All, which Exchange RBAC for Applications scopes to the sending mailbox).
   */
  async hasSentMessage(sender: string, internetMessageId: string): Promise<boolean> {
    const filter = `internetMessageId eq '${internetMessageId.replace(/'/g, "''")}'`;
    const query = new URLSearchParams({ $filter: filter, $select: 'id,internetMessageId', $top: '1' });
    const answer = sentItemsSchema.parse(
      await this.call('GET', `/users/${encodeURIComponent(sender)}/mailFolders/sentitems/messages?${query.toString()}`),
    );
    return answer.value.length > 0;
  }

  private async call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<unknown> {
    const response = await this.send(method, path, body, headers);
    if (response.status === 204) return undefined;
    return response.json().catch(() => undefined);
  }

  /** An identity write: the answer's body is not needed, the throttle percentage is (for the pacer). */
  private async write(method: string, path: string, body?: unknown): Promise<WriteAnswer> {
    const response = await this.send(method, path, body);
    await response.body?.cancel();
    const percentage = Number(response.headers.get('x-ms-throttle-limit-percentage'));
    return percentage > 0 ? { throttleLimitPercentage: percentage } : {};
  }

  private async send(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
    const token = await this.token(CALL_TIMEOUT_MS);
    const response = await fetchGraph(
      `${this.endpoints.versionUrl}${path}`,
      {
        method,
        headers: {
          authorization: `Bearer ${token.token}`,
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...headers,
        },
        ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
      },
      CALL_TIMEOUT_MS,
    );
    if (!response.ok) throw await graphCallErrorFromResponse(response);
    return response;
  }
}
