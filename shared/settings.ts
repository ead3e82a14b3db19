import { z } from 'zod';
import { isoDurationMs } from './core';

/**
 * Every setting the app reads, parsed once at start-up. A missing or malformed value stops the
 * process with a sentence that names the setting and shows an example (see formatSettingsError).
 * local.settings.sample.json, the README's settings table and infra/ are checked against this schema.
 */

const MIN_HMAC_SECRET_BYTES = 32;

const commaSeparatedDomains = z
  .string()
  .optional()
  .transform((value) =>
    (value ?? '')
      .split(',')
      .map((domain) =>
        domain
          .trim()
          .toLowerCase()
          .replace(/^\*?\./, ''),
      )
      .filter((domain) => domain.length > 0),
  )
  .pipe(z.array(z.string().regex(/^[a-z0-9-]+(\.[a-z0-9-]+)+$/, 'expected comma-separated domains such as "contoso.com,fabrikam.co.uk"')));

const optionalText = z
  .string()
  .optional()
  .transform((value) => (value === undefined || value.trim() === '' ? undefined : value.trim()));

const httpsUrl = (example: string) =>
  z.url({ protocol: /^https$/, error: `expected an https URL such as "${example}"` }).transform((value) => value.replace(/\/+$/, ''));

const ncrontab = (defaultSchedule: string) =>
  z
    .string()
    .trim()
    .regex(/^\S+( \S+){5}$/, `expected an NCRONTAB expression of six fields such as "${defaultSchedule}"`)
    .default(defaultSchedule);

/** An ISO 8601 duration of days, hours, minutes and seconds (core/isoDuration.ts), in ms; empty: off. */
const optionalDuration = (example: string) =>
  optionalText.transform((value, context) => {
    if (value === undefined) return undefined;
    const ms = isoDurationMs(value);
    if (ms === undefined || ms <= 0) {
      context.addIssue({ code: 'custom', message: `expected an ISO 8601 duration such as "${example}" (days, hours, minutes, seconds)` });
      return z.NEVER;
    }
    return ms;
  });

const commaSeparatedList = z
  .string()
  .optional()
  .transform((value) =>
    (value ?? '')
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item.length > 0),
  );

/** `host` or `host:port` (a bare host means port 443), lower-cased. */
const commaSeparatedHosts = (example: string) =>
  commaSeparatedList.pipe(
    z.array(
      z
        .string()
        .transform((host) => host.toLowerCase())
        .pipe(z.string().regex(/^[a-z0-9-]+(\.[a-z0-9-]+)*(:\d{1,5})?$/, `expected comma-separated host names such as "${example}"`)),
    ),
  );

const commaSeparatedGroupIds = commaSeparatedList.pipe(
  z.array(
    z.guid('expected comma-separated group object ids such as "3f2504e0-4f89-41d3-9a0c-0305e82c3301"').transform((id) => id.toLowerCase()),
  ),
);

const flag = z
  .enum(['true', 'false'], { error: 'expected "true" or "false"' })
  .default('false')
  .transform((value) => value === 'true');

/** One secret, or two comma-separated while one is rotated; each at least 32 bytes (a guessable secret signs anyone's webhooks). */
const rotatingSecrets = commaSeparatedList
  .refine((secrets) => secrets.length <= 2, 'expected one secret, or two comma-separated during a rotation')
  .refine(
    (secrets) => secrets.every((secret) => Buffer.byteLength(secret, 'utf8') >= MIN_HMAC_SECRET_BYTES),
    `each secret must be at least ${MIN_HMAC_SECRET_BYTES} bytes long: generate one with "openssl rand -hex 32"`,
  );

/** Template name → text: `{"welcome": "Welcome to Contoso's partner portal…"}`. */
const MAX_TEMPLATE_CHARACTERS = 10_000;
export const TEMPLATE_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
const messageTemplates = optionalText.transform((value, context) => {
  if (value === undefined) return {};
  const problem = 'expected a JSON object of template names and texts such as {"welcome": "Welcome to our partner portal."}';
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    context.addIssue({ code: 'custom', message: problem });
    return z.NEVER;
  }
  const templates = z.record(z.string().regex(TEMPLATE_NAME), z.string().min(1).max(MAX_TEMPLATE_CHARACTERS)).safeParse(parsed);
  if (!templates.success) {
    context.addIssue({
      code: 'custom',
      message: `${problem} (names of letters, digits, "-" and "_"; texts of 1 to ${MAX_TEMPLATE_CHARACTERS} characters)`,
    });
    return z.NEVER;
  }
  return templates.data;
});

/** `host=secret` pairs, comma-separated; a host named twice has two secrets (a rotation). */
const callbackSecrets = commaSeparatedList.transform((pairs, context) => {
  const byHost: Record<string, string[]> = {};
  for (const pair of pairs) {
    const equals = pair.indexOf('=');
    const host = pair.slice(0, equals).trim().toLowerCase();
    const secret = pair.slice(equals + 1).trim();
    if (equals <= 0 || !/^[a-z0-9-]+(\.[a-z0-9-]+)*(:\d{1,5})?$/.test(host)) {
      context.addIssue({ code: 'custom', message: 'expected comma-separated host=secret pairs such as "hr.contoso.com=<secret>"' });
      return z.NEVER;
    }
    if (Buffer.byteLength(secret, 'utf8') < MIN_HMAC_SECRET_BYTES) {
      context.addIssue({
        code: 'custom',
        message: `the secret for ${host} must be at least ${MIN_HMAC_SECRET_BYTES} bytes long: generate one with "openssl rand -hex 32"`,
      });
      return z.NEVER;
    }
    (byHost[host] ??= []).push(secret);
    if (byHost[host].length > 2) {
      context.addIssue({ code: 'custom', message: `${host} has more than two secrets: at most two, during a rotation` });
      return z.NEVER;
    }
  }
  return byHost;
});

export const settingsSchema = z.object({
  /** Storage for records, queue and rosters: a connection string or `UseDevelopmentStorage=true`. */
  AzureWebJobsStorage: optionalText,
  /** Identity-based storage, as the Functions host reads it when AzureWebJobsStorage is absent. */
  AzureWebJobsStorage__accountName: optionalText,
  AzureWebJobsStorage__queueServiceUri: optionalText,
  AzureWebJobsStorage__tableServiceUri: optionalText,
  AzureWebJobsStorage__blobServiceUri: optionalText,
  AzureWebJobsStorage__clientId: optionalText,
  AzureWebJobsStorage__credential: optionalText,

  /** Intake policy. */
  INVITE_ALLOWED_DOMAINS: commaSeparatedDomains,
  INVITE_BLOCKED_DOMAINS: commaSeparatedDomains,
  /**
   * The powers a caller may use, each granted by the operator (docs/security.md): the group ids
   * callers may name (unset: none); Member invitations; ccRecipients; a caller's own message text.
   */
  INVITE_ALLOWED_GROUPS: commaSeparatedGroupIds,
  INVITE_ALLOW_MEMBER_TYPE: flag,
  INVITE_ALLOW_CC: flag,
  /** `profile` on items (givenName, department…): set on the guest after the 201; needs User.ReadWrite.All (docs/deploy.md). */
  INVITE_ALLOW_PROFILE: flag,
  INVITE_ALLOW_CUSTOM_MESSAGE: flag,
  /** Exact host names an inviteRedirectUrl may name (https only in any case); unset: any https host. */
  INVITE_ALLOWED_REDIRECT_HOSTS: commaSeparatedHosts('myapps.microsoft.com'),
  /** Operator-written messages callers name with `messageTemplate`: a JSON object of name → text. */
  INVITE_MESSAGE_TEMPLATES: messageTemplates,
  /** How often one person may be sent their invitation again (`resend: true`) in 24 hours. */
  INVITE_RESEND_MAX_PER_DAY: z.coerce.number().int().min(0).max(100).default(3),
  /** How many people one caller may have invited again in a UTC day (every function-key holder counts as one caller). */
  INVITE_RESEND_MAX_PER_CALLER_PER_DAY: z.coerce.number().int().min(0).max(1_000_000).default(500),
  /**
   * When set, POST /api/invitations needs `X-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
   * One secret, or two comma-separated while one is rotated; each at least 32 bytes (a guessable
   * secret signs anyone's webhooks).
   */
  INTAKE_HMAC_SECRET: rotatingSecrets,
  /** How far a signature's timestamp may be from now, in seconds: older requests are refused as replays. */
  INTAKE_HMAC_TOLERANCE_SECONDS: z.coerce.number().int().min(1).max(3600).default(300),
  /**
   * A Queued record untouched this long is presumed to have lost its queue message: it is queued
   * again when its email is submitted again, or by the sweep when the queues are empty.
   */
  QUEUED_STALE_AFTER_SECONDS: z.coerce.number().int().min(30).default(600),

  /** Graph caller (the worker). None set: the managed identity is the caller. */
  GRAPH_TENANT_ID: optionalText,
  GRAPH_CLIENT_ID: optionalText,
  GRAPH_CLIENT_SECRET: optionalText,
  GRAPH_CLIENT_CERTIFICATE_PATH: optionalText,
  /** The same PEM as text: what a Key Vault reference to a certificate gives an app setting. */
  GRAPH_CLIENT_CERTIFICATE: optionalText,
  AZURE_FEDERATED_TOKEN_FILE: optionalText,
  GRAPH_AUTHORITY_HOST: httpsUrl('https://login.microsoftonline.com').default('https://login.microsoftonline.com'),
  GRAPH_ENDPOINT: httpsUrl('https://graph.microsoft.com').default('https://graph.microsoft.com'),
  /**
   * The ceiling for the whole app, from Graph's documented 3,000 writes per 150 s per app and
   * tenant: the busy instances split it (rateShares.ts), and each learns the rate Graph grants below it.
   */
  GRAPH_MAX_WRITES_PER_SECOND: z.coerce.number().positive().max(1000).default(20),
  /**
   * While the app cannot sign in to Graph (a refused secret, no permission, Entra down), how often
   * a fresh token is asked for; invitations wait meanwhile and resume once one is issued.
   */
  GRAPH_SIGNIN_PROBE_SECONDS: z.coerce.number().positive().max(3600).default(30),
  /**
   * While Graph refuses invitations for a reason about the tenant (the abuse block, the guest-invite
   * setting, the directory quota), how often one probe invitation checks whether it is over.
   */
  TENANT_PAUSE_PROBE_MINUTES: z.coerce.number().positive().max(1440).default(60),
  /** How long a worker's claim on a record lasts before another worker may take it over. */
  CLAIM_LEASE_SECONDS: z.coerce.number().int().min(5).max(3600).default(300),
  /** When partnerOnboarding looks for new rosters (NCRONTAB: second minute hour day month day-of-week). */
  PARTNER_ONBOARDING_SCHEDULE: ncrontab('0 */15 * * * *'),
  /** When requeueStrandedInvitations looks for Queued records that lost their message (NCRONTAB). */
  STRANDED_SWEEP_SCHEDULE: ncrontab('0 7 * * * *'),
  /** How long one partnerOnboarding run may work before it stops cleanly (below the Functions timeout). */
  PARTNER_ONBOARDING_BUDGET_SECONDS: z.coerce.number().positive().max(3600).default(480),
  /** How long one invocation keeps retrying Graph before handing the message back to the queue. */
  WORKER_INVOCATION_BUDGET_SECONDS: z.coerce.number().positive().max(3600).default(120),
  /**
   * Who emails the invitation (mail/invitationMail.ts): `graph` (Graph's own email, which drops a
   * custom message for app-sent invitations) or `mail` (Graph sends nothing; we send our own
   * email, in our words and brand, from INVITE_SENDER through Graph's sendMail).
   */
  INVITE_DELIVERY: z.enum(['graph', 'mail'], { error: 'expected "graph" or "mail"' }).default('graph'),
  /** The mailbox our own invitation emails come from (its user principal name or id); required with INVITE_DELIVERY=mail. */
  INVITE_SENDER: optionalText,
  /**
   * The sending mailbox's limits (mail/mailboxBudget.ts), Exchange Online's for one mailbox: about
   * 30 messages a minute and 10,000 recipients in any 24 hours. An email with no room waits, Pending.
   */
  // The sliding minute keeps each message's time in one Table property: at most 1,000 of them.
  MAIL_MAX_PER_MINUTE: z.coerce.number().int().min(1).max(1_000).default(30),
  MAIL_MAX_RECIPIENTS_PER_DAY: z.coerce.number().int().min(1).max(1_000_000).default(10_000),
  /** Branding of our own emails: the organisation that invites, its logo (an https URL) and colour. */
  INVITE_BRAND_NAME: optionalText,
  INVITE_BRAND_LOGO_URL: optionalText.pipe(httpsUrl('https://contoso.com/logo.png').optional()),
  INVITE_BRAND_COLOR: optionalText.pipe(
    z
      .string()
      .regex(/^#[0-9a-fA-F]{6}$/, 'expected a colour such as "#0f6cbd"')
      .optional(),
  ),

  /** Lifecycle (lifecycle/redemptionTracker.ts): when trackRedemptions reads who accepted (NCRONTAB). */
  REDEMPTION_CHECK_SCHEDULE: ncrontab('0 */30 * * * *'),
  /** How many users a second the tracker may read: a budget of its own, apart from the write budget. */
  GRAPH_MAX_READS_PER_SECOND: z.coerce.number().positive().max(1000).default(40),
  /** People still pending this long after their invitation (or last reminder) are reminded; empty: never. */
  REMINDER_AFTER: optionalDuration('P7D'),
  /** At most this many reminders per person. */
  REMINDER_MAX: z.coerce.number().int().min(0).max(10).default(2),
  /** People pending this long after their invitation are expired (EXPIRED_ACTION); empty: never. */
  EXPIRE_AFTER: optionalDuration('P30D'),
  /** `report` (list them), `disable` (accountEnabled false) or `delete` the guest. */
  EXPIRED_ACTION: z.enum(['report', 'disable', 'delete'], { error: 'expected "report", "disable" or "delete"' }).default('report'),

  /**
   * Leavers (lifecycle/leavers.ts): `true` lets callers mark a person a leaver (DELETE
   * /api/invitations/{id}, ?externalId=) and partners' rosters sync (metadata sync=true); off,
   * both are refused. What is done to a leaver's guest is LEAVER_ACTION, after LEAVER_GRACE.
   */
  INVITE_ALLOW_LEAVERS: flag,
  /** `report` (nothing), `disable` (accountEnabled false; enabled again if they come back) or `delete` the guest this app created. */
  LEAVER_ACTION: z.enum(['report', 'disable', 'delete'], { error: 'expected "report", "disable" or "delete"' }).default('disable'),
  /** How long LEAVER_ACTION waits after a person leaves (submitting them again meanwhile undoes it); empty: none. */
  LEAVER_GRACE: optionalDuration('P7D'),
  /** A synced roster that would make more than this share of its partner's people leavers stops and asks (rosters/rosterSync.ts). */
  SYNC_MAX_LEAVERS_PERCENT: z.coerce.number().min(0).max(100).default(20),

  /** Callbacks (lifecycle/invitationEvents.ts): where every status change is POSTed when a submission names no callbackUrl. */
  NOTIFY_URL: optionalText.pipe(httpsUrl('https://hr.contoso.com/hooks/invitations').optional()),
  /** Hosts a submission's callbackUrl may name; empty: callbackUrl is refused. */
  CALLBACK_ALLOWED_HOSTS: commaSeparatedHosts('hr.contoso.com,hooks.fabrikam.com:8443'),
  /**
   * Signs every event (X-Signature: t=…,v1=…, the scheme the intake verifies) whose receiver has no
   * secret of its own in CALLBACK_SECRETS; required with NOTIFY_URL or CALLBACK_ALLOWED_HOSTS. Two
   * comma-separated while one is rotated (each event then carries both signatures).
   */
  NOTIFY_HMAC_SECRET: rotatingSecrets,
  /** Per-receiver secrets, `host=secret` pairs: one receiver cannot forge events to another. */
  CALLBACK_SECRETS: callbackSecrets,
  /**
   * `true`: events may go to loopback, private and link-local addresses (local development only).
   * Otherwise every delivery resolves the receiver's host and refuses internal addresses.
   */
  CALLBACK_ALLOW_PRIVATE: flag,
  /** Delivery attempts of one event before it goes to the events' poison queue. */
  NOTIFY_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(30).default(12),
  /** The wait after a first failed delivery, doubled after each further failure (at most an hour). */
  NOTIFY_FIRST_RETRY_SECONDS: z.coerce.number().positive().max(3600).default(10),

  /**
   * `true`: GET /api/dashboard needs an Entra sign-in through App Service Authentication (infra/
   * sets it with dashboardSignInClientId; docs/deploy.md). The data API keeps its function keys.
   */
  DASHBOARD_REQUIRE_SIGN_IN: flag,
  /**
   * How API callers prove who they are: `keys` (function keys, per kind of caller) or `entra` (App
   * Service Authentication validates each caller's Entra token, and every route needs its app role:
   * Invitations.Submit, Invitations.Read or Invitations.Operate; no key, no shared secret).
   */
  API_CALLER_AUTH: z.enum(['keys', 'entra'], { error: 'expected "keys" or "entra"' }).default('keys'),
});

export type Settings = z.infer<typeof settingsSchema>;

const examples: Partial<Record<keyof Settings, string>> = {
  AzureWebJobsStorage: 'UseDevelopmentStorage=true',
  INVITE_ALLOWED_DOMAINS: 'contoso.com,fabrikam.co.uk',
  INVITE_BLOCKED_DOMAINS: 'gmail.com',
  QUEUED_STALE_AFTER_SECONDS: '600',
  INTAKE_HMAC_TOLERANCE_SECONDS: '300',
  GRAPH_TENANT_ID: '72f988bf-86f1-41af-91ab-2d7cd011db47',
  GRAPH_AUTHORITY_HOST: 'https://login.microsoftonline.com',
  GRAPH_ENDPOINT: 'https://graph.microsoft.com',
  GRAPH_MAX_WRITES_PER_SECOND: '20',
  CLAIM_LEASE_SECONDS: '300',
  GRAPH_SIGNIN_PROBE_SECONDS: '30',
  TENANT_PAUSE_PROBE_MINUTES: '60',
  WORKER_INVOCATION_BUDGET_SECONDS: '120',
  PARTNER_ONBOARDING_SCHEDULE: '0 */15 * * * *',
  PARTNER_ONBOARDING_BUDGET_SECONDS: '480',
  STRANDED_SWEEP_SCHEDULE: '0 7 * * * *',
  DASHBOARD_REQUIRE_SIGN_IN: 'false',
  INVITE_DELIVERY: 'graph',
  INVITE_SENDER: 'invitations@contoso.com',
  MAIL_MAX_PER_MINUTE: '30',
  MAIL_MAX_RECIPIENTS_PER_DAY: '10000',
  INVITE_BRAND_NAME: 'Contoso',
  INVITE_BRAND_LOGO_URL: 'https://contoso.com/logo.png',
  INVITE_BRAND_COLOR: '#0f6cbd',
  REDEMPTION_CHECK_SCHEDULE: '0 */30 * * * *',
  GRAPH_MAX_READS_PER_SECOND: '40',
  REMINDER_AFTER: 'P7D',
  REMINDER_MAX: '2',
  EXPIRE_AFTER: 'P30D',
  EXPIRED_ACTION: 'report',
  INVITE_ALLOW_LEAVERS: 'false',
  LEAVER_ACTION: 'disable',
  LEAVER_GRACE: 'P7D',
  SYNC_MAX_LEAVERS_PERCENT: '20',
  NOTIFY_URL: 'https://hr.contoso.com/hooks/invitations',
  CALLBACK_ALLOWED_HOSTS: 'hr.contoso.com',
  NOTIFY_MAX_ATTEMPTS: '12',
  NOTIFY_FIRST_RETRY_SECONDS: '10',
  INVITE_ALLOWED_GROUPS: '3f2504e0-4f89-41d3-9a0c-0305e82c3301',
  INVITE_ALLOWED_REDIRECT_HOSTS: 'myapps.microsoft.com',
  INVITE_MESSAGE_TEMPLATES: '{"welcome":"Welcome to our partner portal."}',
  INVITE_RESEND_MAX_PER_DAY: '3',
  INVITE_RESEND_MAX_PER_CALLER_PER_DAY: '500',
  CALLBACK_SECRETS: 'hr.contoso.com=<openssl rand -hex 32>',
  API_CALLER_AUTH: 'keys',
};

export class SettingsError extends Error {
  override readonly name = 'SettingsError';
}

/** Parses the environment once; throws a SettingsError whose message names each bad setting. */
export function loadSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  refuseUnresolvedKeyVaultReferences(env);
  const parsed = settingsSchema.safeParse(env);
  if (!parsed.success) {
    const sentences = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0]) as keyof Settings;
      const example = examples[name] ? ` (for example ${name}=${examples[name]})` : '';
      return `Setting ${name} is invalid: ${issue.message}${example}.`;
    });
    throw new SettingsError(sentences.join(' '));
  }
  const settings = parsed.data;
  checkStorageSettings(settings);
  checkGraphCallerSettings(settings);
  if (settings.INVITE_DELIVERY === 'mail' && (!settings.INVITE_SENDER || !settings.INVITE_BRAND_NAME)) {
    const missing = !settings.INVITE_SENDER ? 'INVITE_SENDER' : 'INVITE_BRAND_NAME';
    throw new SettingsError(
      `Setting ${missing} is missing: INVITE_DELIVERY=mail sends each invitation from a mailbox, in the name of an organisation (for example ${missing}=${examples[missing]}).`,
    );
  }
  if ((settings.NOTIFY_URL || settings.CALLBACK_ALLOWED_HOSTS.length > 0) && settings.NOTIFY_HMAC_SECRET.length === 0) {
    // An unsigned event is one anybody could forge at the receiver.
    throw new SettingsError(
      'Setting NOTIFY_HMAC_SECRET is missing: events to NOTIFY_URL or a callbackUrl are signed with it (generate one with "openssl rand -hex 32").',
    );
  }
  checkSecretsDiffer(settings);
  if (settings.API_CALLER_AUTH === 'entra' && env.WEBSITE_SITE_NAME && env.WEBSITE_AUTH_ENABLED?.toLowerCase() !== 'true') {
    // Without the platform's authentication, anyone could send the principal header the roles are read from.
    throw new SettingsError(
      'Setting API_CALLER_AUTH=entra needs App Service Authentication on this app (WEBSITE_AUTH_ENABLED is not True): without it any caller could claim any app role. Deploy with apiCallerClientId (docs/deploy.md).',
    );
  }
  if (settings.WORKER_INVOCATION_BUDGET_SECONDS >= settings.CLAIM_LEASE_SECONDS) {
    // A claim must outlive the invocation that holds it, or a second worker could call Graph for the same person.
    throw new SettingsError(
      `Setting WORKER_INVOCATION_BUDGET_SECONDS (${settings.WORKER_INVOCATION_BUDGET_SECONDS}) must be less than CLAIM_LEASE_SECONDS (${settings.CLAIM_LEASE_SECONDS}).`,
    );
  }
  return settings;
}

/**
 * App Service passes a Key Vault reference on as the setting's value when it cannot resolve it (the
 * secret is not there yet, or the identity may not read it). Taken as a value, the reference text
 * would be a guessable webhook secret, or a Graph secret that fails with a confusing error: refuse it.
 */
function refuseUnresolvedKeyVaultReferences(env: NodeJS.ProcessEnv): void {
  const unresolved = Object.keys(settingsSchema.shape).filter((name) => env[name]?.trim().startsWith('@Microsoft.KeyVault('));
  if (unresolved.length === 0) return;
  throw new SettingsError(
    unresolved
      .map(
        (name) =>
          `Setting ${name} is an unresolved Key Vault reference: the platform could not read its secret, so it passed the reference itself. Store the secret in the vault and let the app's identity read it (docs/deploy.md), then restart the app.`,
      )
      .join(' '),
  );
}

/**
 * A receiver holds the secret its events are signed with. Were it the intake's secret, a receiver
 * could sign submissions; were it another receiver's, it could forge that receiver's events.
 */
function checkSecretsDiffer(settings: Settings): void {
  const intake = new Set(settings.INTAKE_HMAC_SECRET);
  if (settings.NOTIFY_HMAC_SECRET.some((secret) => intake.has(secret))) {
    throw new SettingsError(
      'Setting NOTIFY_HMAC_SECRET must differ from INTAKE_HMAC_SECRET: every event receiver holds it, and could sign submissions with it.',
    );
  }
  const owners = new Map<string, string>();
  for (const secret of settings.NOTIFY_HMAC_SECRET) owners.set(secret, 'NOTIFY_HMAC_SECRET');
  for (const [host, secrets] of Object.entries(settings.CALLBACK_SECRETS)) {
    for (const secret of secrets) {
      const owner = intake.has(secret) ? 'INTAKE_HMAC_SECRET' : owners.get(secret);
      if (owner && owner !== host)
        throw new SettingsError(
          `Setting CALLBACK_SECRETS gives ${host} the same secret as ${owner}: each receiver needs its own, or one could forge the other's events.`,
        );
      owners.set(secret, host);
    }
  }
}

function checkStorageSettings(settings: Settings): void {
  const identityBased =
    settings.AzureWebJobsStorage__accountName ||
    (settings.AzureWebJobsStorage__queueServiceUri && settings.AzureWebJobsStorage__tableServiceUri);
  if (!settings.AzureWebJobsStorage && !identityBased) {
    throw new SettingsError(
      'Setting AzureWebJobsStorage is missing: set a connection string (for example AzureWebJobsStorage=UseDevelopmentStorage=true), ' +
        'or AzureWebJobsStorage__accountName (or __queueServiceUri and __tableServiceUri) for a managed identity.',
    );
  }
}

function checkGraphCallerSettings(settings: Settings): void {
  const { GRAPH_CLIENT_SECRET, GRAPH_CLIENT_CERTIFICATE_PATH, GRAPH_CLIENT_CERTIFICATE, GRAPH_TENANT_ID, GRAPH_CLIENT_ID } = settings;
  const given = Object.entries({ GRAPH_CLIENT_SECRET, GRAPH_CLIENT_CERTIFICATE_PATH, GRAPH_CLIENT_CERTIFICATE }).filter(
    ([, value]) => value,
  );
  if (given.length > 1) {
    throw new SettingsError(`Settings ${given.map(([name]) => name).join(' and ')} are all set: keep the one the app registration uses.`);
  }
  if (given.length === 1 && (!GRAPH_TENANT_ID || !GRAPH_CLIENT_ID)) {
    const missing = !GRAPH_TENANT_ID ? 'GRAPH_TENANT_ID' : 'GRAPH_CLIENT_ID';
    throw new SettingsError(
      `Setting ${missing} is missing: an app registration's secret or certificate needs GRAPH_TENANT_ID and GRAPH_CLIENT_ID (for example GRAPH_TENANT_ID=${examples.GRAPH_TENANT_ID}).`,
    );
  }
}
