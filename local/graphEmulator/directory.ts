import { normalizeEmailAddress } from '../../shared/core';
import { uuidFrom } from './emulatorHttp';
import { WriteBudget, type WriteBudgetOptions } from './writeBudget';

/**
 * The tenant's users, as far as invitations touch them: an invitation creates a guest whose
 * `externalUserState` is PendingAcceptance until a control route redeems it; Graph's user routes
 * read, disable and delete them. Answers follow Graph v1.0's shapes, permissions and error codes.
 */

export const USER_READ_ALL = 'User.Read.All';
export const USER_READ_WRITE_ALL = 'User.ReadWrite.All';
export const USER_ENABLE_DISABLE_ACCOUNT_ALL = 'User.EnableDisableAccount.All';
/** Least privilege for deleting (and restoring) users since December 2024; User.ReadWrite.All still works. */
export const USER_DELETE_RESTORE_ALL = 'User.DeleteRestore.All';
export const GROUP_MEMBER_READ_WRITE_ALL = 'GroupMember.ReadWrite.All';
export const POLICY_READ_ALL = 'Policy.Read.All';
export const ORGANIZATION_READ_ALL = 'Organization.Read.All';
const DIRECTORY_READ_ALL = 'Directory.Read.All';

/** The tenant's guest-invite setting (authorizationPolicy.allowInvitesFrom), as Graph names its values. */
export type AllowInvitesFrom = 'none' | 'adminsAndGuestInviters' | 'adminsGuestInvitersAndAllMembers' | 'everyone';
export const MAIL_SEND = 'Mail.Send';
/** Reads a mailbox's messages without their bodies: the least privilege for finding a sent message (Exchange RBAC scopes it to one mailbox). */
export const MAIL_READ_BASIC_ALL = 'Mail.ReadBasic.All';

/** A message sendMail accepted, as the recipient's client would read it. */
export interface SentMail {
  sender: string;
  to: string[];
  cc: string[];
  subject: string;
  language?: string;
  html?: string;
  text?: string;
  /** The message's Message-ID header, as Exchange keeps it (`internetMessageId`). */
  internetMessageId?: string;
  at: number;
}

export interface EmulatedUser {
  id: string;
  displayName: string | null;
  mail: string;
  otherMails: string[];
  proxyAddresses: string[];
  userPrincipalName: string;
  userType: 'Guest' | 'Member';
  externalUserState: 'PendingAcceptance' | 'Accepted' | null;
  externalUserStateChangeDateTime: string | null;
  accountEnabled: boolean;
  creationType: 'Invitation' | null;
  createdDateTime: string;
  /** Profile properties an app set (`PATCH /users/{id}` with User.ReadWrite.All). */
  givenName?: string;
  surname?: string;
  companyName?: string;
  department?: string;
  jobTitle?: string;
  employeeId?: string;
  usageLocation?: string;
}

/** The profile properties PATCH may set here (Graph's user resource names). */
const PROFILE_PROPERTIES = ['givenName', 'surname', 'companyName', 'department', 'jobTitle', 'employeeId', 'usageLocation'] as const;

/** What a user route answers: a status and a JSON body (undefined for 204), plus headers. */
export interface DirectoryAnswer {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Acted on, but the answer never reaches the caller: the connection drops instead. */
  dropConnection?: boolean;
}

export interface DirectoryCaller {
  tenantId: string;
  roles: string[];
}

/**
 * Graph's identity reads: resource units per app and tenant, 3,500 per 10 s in a tenant of under
 * 50 users (5,000 and 8,000 in larger ones); a GET of a user costs one, alone or in a $batch.
 */
export const DEFAULT_READ_BUDGET: WriteBudgetOptions = { limit: 3_500, windowMs: 10_000 };

export class EmulatedDirectory {
  /** Users by id. */
  readonly users = new Map<string, EmulatedUser>();
  /** Groups by id, with their members' ids. */
  readonly groups = new Map<string, Set<string>>();
  /** Mailboxes sendMail may send from. */
  readonly mailboxes = new Set<string>();
  readonly outbox: SentMail[] = [];
  /**
   * What a member reference must start with (`<graph endpoint>/v1.0/`): Graph resolves the
   * `@odata.id` of `members/$ref`, so a reference to another cloud's host names nothing here.
   */
  referenceBase: string | undefined;
  /**
   * `mailbox-throttled`: Exchange Online's messages per minute for one mailbox; past it sendMail
   * answers 429 with Retry-After. Null: no limit.
   */
  mailboxPerMinute: number | null = null;
  /** sendMail calls answered 429 for the mailbox's limit. */
  mailboxThrottled = 0;
  /**
   * `mail-answer-lost`: the next this many sendMail calls are accepted (the message goes out) and
   * their 202 is lost (the connection drops), as a gateway or a network can lose it.
   */
  loseSendMailAnswers = 0;
  /** Sent Items searches answered (`GET /users/{sender}/mailFolders/sentitems/messages`). */
  sentItemsSearches = 0;
  /** How long a new user stays unknown to advanced queries (ConsistencyLevel: eventual): Graph's index lags. */
  advancedQueryLagMs = 5_000;
  /** How long a new user stays unknown to group adds (directory replication). */
  replicationLagMs = 0;
  reads = 0;
  /** The profile properties each accepted PATCH set, in order (what a test checks was written). */
  readonly profileWrites: { userId: string; fields: Record<string, string> }[] = [];
  /** Reads answered 429 for the read budget. */
  readsThrottled = 0;
  /** Who may invite guests in this tenant (`GET /policies/authorizationPolicy`). */
  allowInvitesFrom: AllowInvitesFrom = 'everyone';
  /** The directory's object quota (`GET /organization`); `used` counts the objects besides these users, plus the users. */
  directoryQuota = { total: 50_000, usedBesidesUsers: 120 };
  private readonly readBudgets = new Map<string, WriteBudget>();

  constructor(private readonly readBudget: () => WriteBudgetOptions) {}

  /** The guest an invitation creates, or the existing user it is sent to again (Graph re-invites). */
  invited(tenantId: string, email: string, body: Record<string, unknown>): EmulatedUser {
    const normalized = normalizeEmailAddress(email);
    const existing = this.findByEmail(normalized);
    if (existing) return existing;
    const id = uuidFrom(`user:${tenantId}:${normalized}`);
    const user: EmulatedUser = {
      id,
      displayName: typeof body.invitedUserDisplayName === 'string' ? body.invitedUserDisplayName : null,
      mail: normalized,
      otherMails: [normalized],
      proxyAddresses: [`SMTP:${normalized}`],
      userPrincipalName: `${normalized.replace('@', '_')}#EXT#@emulated.onmicrosoft.com`,
      userType: body.invitedUserType === 'Member' ? 'Member' : 'Guest',
      externalUserState: 'PendingAcceptance',
      externalUserStateChangeDateTime: new Date().toISOString(),
      accountEnabled: true,
      creationType: 'Invitation',
      createdDateTime: new Date().toISOString(),
    };
    this.users.set(id, user);
    return user;
  }

  /** A user who was in the tenant before: a guest someone else invited, or a member. */
  add(user: Pick<EmulatedUser, 'mail' | 'userType'> & Partial<EmulatedUser>): EmulatedUser {
    const mail = normalizeEmailAddress(user.mail);
    const added: EmulatedUser = {
      id: uuidFrom(`existing:${mail}`),
      displayName: null,
      otherMails: [mail],
      proxyAddresses: [`SMTP:${mail}`],
      userPrincipalName: `${mail.replace('@', '_')}#EXT#@emulated.onmicrosoft.com`,
      externalUserState: user.userType === 'Guest' ? 'PendingAcceptance' : null,
      externalUserStateChangeDateTime: null,
      accountEnabled: true,
      creationType: user.userType === 'Guest' ? 'Invitation' : null,
      createdDateTime: new Date(Date.now() - 365 * 86_400_000).toISOString(),
      ...user,
      mail,
    };
    this.users.set(added.id, added);
    return added;
  }

  /**
   * `resetRedemption: true` for an existing user: the same object (id, groups) is pending again,
   * at the invited address (which may be a new one); undefined when no user has that id.
   */
  resetRedemption(userId: string, email: string): EmulatedUser | undefined {
    const user = this.users.get(userId);
    if (!user) return undefined;
    const normalized = normalizeEmailAddress(email);
    user.mail = normalized;
    if (!user.otherMails.includes(normalized)) user.otherMails.push(normalized);
    user.externalUserState = 'PendingAcceptance';
    user.externalUserStateChangeDateTime = new Date().toISOString();
    return user;
  }

  /** The control route's redemption: the guest accepts now. */
  redeem(email: string): EmulatedUser | undefined {
    const user = this.findByEmail(normalizeEmailAddress(email));
    if (!user) return undefined;
    user.externalUserState = 'Accepted';
    user.externalUserStateChangeDateTime = new Date().toISOString();
    return user;
  }

  findByEmail(normalizedEmail: string): EmulatedUser | undefined {
    for (const user of this.users.values()) {
      if (
        user.mail === normalizedEmail ||
        user.otherMails.includes(normalizedEmail) ||
        user.proxyAddresses.some((address) => address.toLowerCase() === `smtp:${normalizedEmail}`)
      )
        return user;
    }
    return undefined;
  }

  /** `/v1.0/users...` (sendMail too) and `/v1.0/groups/{id}/members/$ref` for one caller; undefined for any other path. */
  answer(
    method: string,
    path: string,
    search: URLSearchParams,
    body: unknown,
    caller: DirectoryCaller & { clientId: string },
    raw = '',
    /** The ConsistencyLevel request header: `eventual` asks the eventually consistent index. */
    consistencyLevel?: string,
  ): DirectoryAnswer | undefined {
    const sendMail = /^\/users\/([^/?]+)\/sendMail$/.exec(path);
    if (sendMail && method === 'POST') return this.sendMail(decodeURIComponent(sendMail[1]!), raw, caller.roles);
    const sentItems = /^\/users\/([^/?]+)\/mailFolders\/sentitems\/messages$/i.exec(path);
    if (sentItems && method === 'GET') return this.searchSentItems(decodeURIComponent(sentItems[1]!), search, caller.roles);
    if (path === '/policies/authorizationPolicy' && method === 'GET')
      return this.readTenant(caller, [POLICY_READ_ALL], () => this.authorizationPolicy());
    if (path === '/organization' && method === 'GET')
      return this.readTenant(caller, [ORGANIZATION_READ_ALL, DIRECTORY_READ_ALL], () => this.organization(search));
    const member = /^\/groups\/([^/?]+)\/members\/([^/?]+)\/\$ref$/.exec(path);
    if (member && method === 'DELETE')
      return this.removeMember(decodeURIComponent(member[1]!), decodeURIComponent(member[2]!), caller.roles);
    const members = /^\/groups\/([^/?]+)\/members\/\$ref$/.exec(path);
    if (members && method === 'POST') return this.addMember(decodeURIComponent(members[1]!), body, caller.roles);
    const match = /^\/users(?:\/([^/?]+))?$/.exec(path);
    if (!match) return undefined;
    const id = match[1] ? decodeURIComponent(match[1]) : undefined;
    if (method === 'GET') {
      if (!canRead(caller.roles)) return denied();
      const throttled = this.takeRead(caller);
      if (throttled) return throttled;
      return id ? this.getUser(id, search) : this.listUsers(search, consistencyLevel?.toLowerCase() === 'eventual');
    }
    if (!id) return graphError(405, 'Request_BadRequest', 'The HTTP method is not allowed on this resource.');
    if (method === 'PATCH') return this.updateUser(id, body, caller.roles);
    if (method === 'DELETE') {
      if (!caller.roles.includes(USER_DELETE_RESTORE_ALL) && !caller.roles.includes(USER_READ_WRITE_ALL)) return denied();
      const user = this.users.get(id);
      if (!user) return notFound(id);
      this.users.delete(id);
      return { status: 204 };
    }
    return graphError(405, 'Request_BadRequest', 'The HTTP method is not allowed on this resource.');
  }

  /** A read of the tenant's own settings: one of `roles`, and one unit of the read budget. */
  private readTenant(caller: DirectoryCaller & { clientId: string }, roles: string[], answer: () => DirectoryAnswer): DirectoryAnswer {
    if (!roles.some((role) => caller.roles.includes(role))) return denied();
    return this.takeRead(caller) ?? answer();
  }

  /** Graph's v1.0 answer: the tenant's one authorizationPolicy object (Policy.Read.All). */
  private authorizationPolicy(): DirectoryAnswer {
    return {
      status: 200,
      body: {
        '@odata.context': 'https://graph.microsoft.com/v1.0/$metadata#policies/authorizationPolicy/$entity',
        id: 'authorizationPolicy',
        displayName: 'Authorization Policy',
        allowInvitesFrom: this.allowInvitesFrom,
        guestUserRoleId: '10dae51f-b6af-4016-8d66-8c2a99b929b3',
      },
    };
  }

  /** `GET /organization`: the one organization, with its directory quota when selected. */
  private organization(search: URLSearchParams): DirectoryAnswer {
    const organization = {
      id: 'c0ffee00-0000-4000-8000-000000000001',
      displayName: 'Emulated Tenant',
      directorySizeQuota: { used: this.directoryQuota.usedBesidesUsers + this.users.size, total: this.directoryQuota.total },
    };
    const select = search.get('$select');
    const fields = select ? new Set(['id', ...select.split(',').map((field) => field.trim())]) : undefined;
    const shown = fields ? Object.fromEntries(Object.entries(organization).filter(([key]) => fields.has(key))) : organization;
    return { status: 200, body: { '@odata.context': 'https://graph.microsoft.com/v1.0/$metadata#organization', value: [shown] } };
  }

  private getUser(id: string, search: URLSearchParams): DirectoryAnswer {
    const user = this.users.get(id);
    if (!user) return notFound(id);
    return { status: 200, body: selected(user, search.get('$select')) };
  }

  /**
   * The `$filter` of Entra's "is this person already here?" query: equality on mail and
   * userPrincipalName, and `any` on otherMails and proxyAddresses, each supported by default
   * (Graph's filter table for users). The same query as an advanced query (ConsistencyLevel:
   * eventual) is answered from the eventually consistent index, which learns of a new user only
   * after `advancedQueryLagMs`: a lookup right after a crash must not ask it.
   */
  private listUsers(search: URLSearchParams, eventual: boolean): DirectoryAnswer {
    const filter = search.get('$filter') ?? '';
    const values = [...filter.matchAll(/eq '((?:[^']|'')*)'/g)].map((found) => found[1]!.replace(/''/g, "'").toLowerCase());
    if (search.get('$count') === 'true' && !eventual) {
      return graphError(
        400,
        'Request_BadRequest',
        '$count is not currently supported without the ConsistencyLevel header set to eventual.',
      );
    }
    const indexedBefore = Date.now() - (eventual ? this.advancedQueryLagMs : 0);
    const matching = [...this.users.values()].filter(
      (user) =>
        Date.parse(user.createdDateTime) <= indexedBefore &&
        values.some(
          (value) =>
            user.mail === value ||
            user.userPrincipalName.toLowerCase() === value ||
            user.otherMails.includes(value) ||
            user.proxyAddresses.some((address) => address.toLowerCase() === value),
        ),
    );
    return {
      status: 200,
      body: {
        '@odata.context': 'https://graph.microsoft.com/v1.0/$metadata#users',
        ...(search.get('$count') === 'true' ? { '@odata.count': matching.length } : {}),
        value: matching.map((user) => selected(user, search.get('$select'))),
      },
    };
  }

  private updateUser(id: string, body: unknown, roles: string[]): DirectoryAnswer {
    const changes = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
    const onlyAccountEnabled = Object.keys(changes).every((key) => key === 'accountEnabled');
    // Graph's least privilege for accountEnabled: User.EnableDisableAccount.All with User.Read.All.
    const allowed =
      roles.includes(USER_READ_WRITE_ALL) ||
      (onlyAccountEnabled && roles.includes(USER_ENABLE_DISABLE_ACCOUNT_ALL) && roles.includes(USER_READ_ALL));
    if (!allowed) return denied();
    const user = this.users.get(id);
    // A user created moments ago may be unknown here yet (directory replication), as to group adds.
    if (!user || Date.now() - Date.parse(user.createdDateTime) < this.replicationLagMs) return notFound(id);
    const unknown = Object.keys(changes).find(
      (key) => key !== 'accountEnabled' && !(PROFILE_PROPERTIES as readonly string[]).includes(key),
    );
    if (unknown) return graphError(400, 'Request_BadRequest', `Property '${unknown}' does not exist on type 'microsoft.graph.user'.`);
    if (typeof changes.accountEnabled === 'boolean') user.accountEnabled = changes.accountEnabled;
    const written = Object.fromEntries(
      PROFILE_PROPERTIES.flatMap((property) => (typeof changes[property] === 'string' ? [[property, changes[property]]] : [])),
    );
    for (const [property, value] of Object.entries(written)) user[property as (typeof PROFILE_PROPERTIES)[number]] = value;
    if (Object.keys(written).length > 0) this.profileWrites.push({ userId: id, fields: written });
    return { status: 204 };
  }

  /** sendMail with a base64 MIME body (what our app sends): the message goes to the outbox. */
  private sendMail(sender: string, raw: string, roles: string[]): DirectoryAnswer {
    if (!roles.includes(MAIL_SEND)) return denied();
    if (!this.mailboxes.has(sender.toLowerCase())) {
      return graphError(404, 'ErrorInvalidUser', `The requested user '${sender}' is invalid.`);
    }
    if (this.mailboxPerMinute !== null) {
      const recent = this.outbox.filter((mail) => mail.sender === sender && Date.now() - mail.at < 60_000);
      if (recent.length >= this.mailboxPerMinute) {
        this.mailboxThrottled += 1;
        return {
          ...graphError(429, 'ApplicationThrottled', 'Mailbox send limit exceeded. Please retry again later.'),
          headers: { 'retry-after': String(Math.max(1, Math.ceil((recent[0]!.at + 60_000 - Date.now()) / 1000))) },
        };
      }
    }
    const parsed = parseMime(Buffer.from(raw.trim(), 'base64').toString('utf8'));
    if (!parsed) return graphError(400, 'ErrorMimeContentInvalidBase64String', 'Invalid base64 string for MIME content.');
    this.outbox.push({ sender, ...parsed, at: Date.now() });
    if (this.loseSendMailAnswers > 0) {
      this.loseSendMailAnswers -= 1;
      return { status: 202, dropConnection: true };
    }
    return { status: 202 };
  }

  /**
   * `GET /users/{sender}/mailFolders/sentitems/messages?$filter=internetMessageId eq '<id>'`: the
   * sent messages with that Message-ID (Mail.ReadBasic.All, or Mail.Read). Only that filter is read.
   */
  private searchSentItems(sender: string, search: URLSearchParams, roles: string[]): DirectoryAnswer {
    if (!roles.includes(MAIL_READ_BASIC_ALL) && !roles.includes('Mail.Read')) return denied();
    if (!this.mailboxes.has(sender.toLowerCase())) return graphError(404, 'ErrorInvalidUser', `The requested user '${sender}' is invalid.`);
    const wanted = /^internetMessageId eq '(.*)'$/.exec(search.get('$filter') ?? '')?.[1]?.replace(/''/g, "'");
    if (wanted === undefined) return graphError(400, 'ErrorInvalidUrlQueryFilter', 'The query filter is not supported here.');
    this.sentItemsSearches += 1;
    const found = this.outbox.filter((mail) => mail.sender.toLowerCase() === sender.toLowerCase() && mail.internetMessageId === wanted);
    return {
      status: 200,
      body: {
        value: found.map((mail, index) => ({
          id: `sent-${index}`,
          internetMessageId: mail.internetMessageId,
          subject: mail.subject,
          sentDateTime: new Date(mail.at).toISOString(),
        })),
      },
    };
  }

  /** `DELETE /groups/{id}/members/{userId}/$ref`: 204, or 404 for a group or a membership that is not there. */
  private removeMember(groupId: string, userId: string, roles: string[]): DirectoryAnswer {
    if (!roles.includes(GROUP_MEMBER_READ_WRITE_ALL)) return denied();
    const members = this.groups.get(groupId);
    if (!members) return notFound(groupId);
    if (!members.delete(userId)) return notFound(userId);
    return { status: 204 };
  }

  /** `POST /groups/{id}/members/$ref`: Graph's answers for a member, a group or a user it does not know (yet). */
  private addMember(groupId: string, body: unknown, roles: string[]): DirectoryAnswer {
    if (!roles.includes(GROUP_MEMBER_READ_WRITE_ALL)) return denied();
    const members = this.groups.get(groupId);
    if (!members) return notFound(groupId);
    const reference = (body as { '@odata.id'?: unknown } | undefined)?.['@odata.id'];
    const expected = `${this.referenceBase ?? ''}directoryObjects/`;
    if (typeof reference !== 'string' || (this.referenceBase !== undefined && !reference.startsWith(expected)))
      return graphError(400, 'Request_BadRequest', `Invalid object identifier '${String(reference)}'.`);
    const userId = reference.split('/').pop()!;
    const user = this.users.get(userId);
    if (!user || Date.now() - Date.parse(user.createdDateTime) < this.replicationLagMs) return notFound(userId);
    if (members.has(userId)) {
      return graphError(
        400,
        'Request_BadRequest',
        "One or more added object references already exist for the following modified properties: 'members'.",
      );
    }
    members.add(userId);
    return { status: 204 };
  }

  private takeRead(caller: DirectoryCaller & { clientId: string }): DirectoryAnswer | undefined {
    this.reads += 1;
    const key = `${caller.clientId}/${caller.tenantId}`;
    let budget = this.readBudgets.get(key);
    if (!budget) this.readBudgets.set(key, (budget = new WriteBudget(this.readBudget())));
    budget.options = this.readBudget();
    const answer = budget.take(Date.now());
    if (answer.ok) return undefined;
    this.readsThrottled += 1;
    return {
      ...graphError(429, 'TooManyRequests', 'Too many requests.'),
      headers: { 'retry-after': String(Math.max(1, Math.ceil(answer.retryAfterMs / 1000))) },
    };
  }

  /** A new read budget starts empty (configure). */
  resetReadBudgets(): void {
    this.readBudgets.clear();
  }

  reset(): void {
    this.users.clear();
    this.groups.clear();
    this.outbox.length = 0;
    this.readBudgets.clear();
    this.reads = 0;
    this.readsThrottled = 0;
  }
}

function canRead(roles: readonly string[]): boolean {
  return roles.includes(USER_READ_ALL) || roles.includes(USER_READ_WRITE_ALL);
}

// What Graph returns of a user without $select (v1.0's default properties, of those we keep):
// externalUserState, createdDateTime, creationType and accountEnabled only when selected.
const DEFAULT_USER_PROPERTIES = new Set(['id', 'displayName', 'mail', 'userPrincipalName']);

function selected(user: EmulatedUser, select: string | null): Record<string, unknown> {
  if (!select) return Object.fromEntries(Object.entries(user).filter(([key]) => DEFAULT_USER_PROPERTIES.has(key)));
  const fields = new Set(['id', ...select.split(',').map((field) => field.trim())]);
  return Object.fromEntries(Object.entries(user).filter(([key]) => fields.has(key)));
}

function denied(): DirectoryAnswer {
  return graphError(403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.');
}

function notFound(id: string): DirectoryAnswer {
  return graphError(
    404,
    'Request_ResourceNotFound',
    `Resource '${id}' does not exist or one of its queried reference-property objects are not present.`,
  );
}

function graphError(status: number, code: string, message: string): DirectoryAnswer {
  return { status, body: { error: { code, message, innerError: { date: new Date().toISOString().slice(0, 19) } } } };
}

/** The parts of the MIME message our app sends (multipart/alternative, base64 bodies, encoded-word headers). */
function parseMime(mime: string): Omit<SentMail, 'sender' | 'at'> | undefined {
  const [head, ...rest] = mime.split(/\r?\n\r?\n/);
  if (!head || rest.length === 0) return undefined;
  const headers = new Map(
    head.split(/\r?\n/).flatMap((line) => {
      const at = line.indexOf(':');
      return at > 0 ? [[line.slice(0, at).toLowerCase(), line.slice(at + 1).trim()] as const] : [];
    }),
  );
  const decodeWords = (value: string) =>
    value.replace(/=\?utf-8\?B\?([^?]*)\?=/gi, (_, encoded: string) => Buffer.from(encoded, 'base64').toString('utf8'));
  const addresses = (value: string | undefined) => (value ? [...value.matchAll(/<([^>]+)>/g)].map((found) => found[1]!.toLowerCase()) : []);
  const boundary = /boundary="([^"]+)"/.exec(headers.get('content-type') ?? '')?.[1];
  const body = rest.join('\r\n\r\n');
  const parts = boundary ? body.split(`--${boundary}`).slice(1, -1) : [];
  const partOf = (type: string) => {
    const part = parts.find((candidate) => new RegExp(`content-type: ${type}`, 'i').test(candidate));
    const content = part
      ?.split(/\r?\n\r?\n/)
      .slice(1)
      .join('');
    return content === undefined ? undefined : Buffer.from(content.replace(/\s+/g, ''), 'base64').toString('utf8');
  };
  const html = partOf('text/html');
  const text = partOf('text/plain');
  const language = headers.get('content-language');
  const messageId = headers.get('message-id');
  return {
    ...(messageId ? { internetMessageId: messageId } : {}),
    to: addresses(headers.get('to')),
    cc: addresses(headers.get('cc')),
    subject: decodeWords(headers.get('subject') ?? ''),
    ...(language ? { language } : {}),
    ...(html !== undefined ? { html } : {}),
    ...(text !== undefined ? { text } : {}),
  };
}
