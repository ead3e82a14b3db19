import { randomUUID } from 'node:crypto';
import { BatchBook, BatchIndex, BatchLedger, RejectedRows, BatchReports } from './batches';
import { BatchRedrive, Intake, IdempotencyStore, InvitationPlanner } from './intake';
import {
  graphCaller,
  graphEndpoints,
  GraphInvitationsClient,
  GraphPacer,
  CredentialCircuit,
  RateShares,
  InvitationSender,
  GraphDirectoryClient,
  GuestLookup,
  ReadBudget,
  SendingPause,
  TenantSettings,
} from './graph';
import { HealthBoard } from './healthBoard';
import { InvitationClaims, InvitationWorker, StrandedInvitationSweeper, InvitationFollowUp, SponsorCheck, EmailResend } from './worker';
import {
  INVITATIONS_QUEUE,
  InvitationQueue,
  poisonQueueName,
  INVITATIONS_TABLE,
  InvitationStore,
  readRecord,
  CallerResendBudget,
  storageAccountFromSettings,
  TableLayout,
  type StorageAccount,
} from './storage';
import { PartnerOnboarding, ROSTERS_CONTAINER, RosterProgressStore, RosterSync } from './rosters';
import { loadSettings, type Settings } from './settings';
import { EVENTS_QUEUE, EventOutbox, InvitationEvents, RedemptionTracker, ExpiryPolicyMemory, RedemptionReset, Leavers } from './lifecycle';
import { MailboxBudget } from './mail';
import { RecordChanges } from './records';

/**
 * Everything a handler needs, created once per process and passed in: handlers never construct
 * clients. Tests and the local host build their own with other queue and table names.
 */
export interface AppDependencies {
  settings: Settings;
  store: InvitationStore;
  queue: InvitationQueue;
  intake: Intake;
  batchReports: BatchReports;
  /** What submissions add to their batches: registration, people and rejected rows. */
  batches: BatchBook;
  batchRedrive: BatchRedrive;
  worker: InvitationWorker;
  partnerOnboarding: PartnerOnboarding;
  strandedSweeper: StrandedInvitationSweeper;
  health: HealthBoard;
  /** The process's Graph sign-in circuit (stopped with the process). */
  credentialCircuit: CredentialCircuit;
  /** This instance's share of the app's Graph budget, heartbeating once the worker calls Graph. */
  rateShares: RateShares;
  /** Who accepted, reminders, expiry (lifecycle/). */
  redemptionTracker: RedemptionTracker;
  /** Status changes told to callers through their own queue. */
  events: InvitationEvents;
  /** Their outbox: each event written with its change, and relayed to the queue. */
  eventOutbox: EventOutbox;
  /** An operator's reset of the redemption of a guest this app created. */
  redemptionReset: RedemptionReset;
  /** People HR (or a partner's synced roster) says have gone: Left, and LEAVER_ACTION on their guest. */
  leavers: Leavers;
  /** An operator's resend of our own email whose outcome was Unknown or Failed. */
  emailResend: EmailResend;
  /** The pause of all sending, shared by every instance: the tenant's refusal, or an operator's switch. */
  sendingPause: SendingPause;
}

export interface ResourceNames {
  queueName: string;
  tableName: string;
  /** Default `partner-rosters`. */
  rostersContainer?: string;
  /** Default `invitation-events` (tests: `<queueName>-events`). */
  eventsQueueName?: string;
}

// A probe is one token request; Entra answers in well under a second when it answers at all.
const PROBE_TIMEOUT_MS = 10_000;

export const DEFAULT_RESOURCE_NAMES: ResourceNames = { queueName: INVITATIONS_QUEUE, tableName: INVITATIONS_TABLE };

export async function createAppDependencies(
  settings: Settings,
  names: ResourceNames = DEFAULT_RESOURCE_NAMES,
  storage: StorageAccount = storageAccountFromSettings(settings),
): Promise<AppDependencies> {
  const records = await recordsFrom(settings, names, storage);
  const { store, queue, ledger, batches, events } = records;
  const graph = graphFrom(settings, records);
  const intake = intakeFrom(settings, records, graph);
  const batchReports = new BatchReports(store, ledger, batches.rejectedRows, batches.index);
  const leavers = leaversFrom(settings, records, graph);
  return {
    settings,
    store,
    queue,
    events,
    eventOutbox: records.eventOutbox,
    batches,
    intake,
    batchReports,
    batchRedrive: new BatchRedrive(store, ledger, intake),
    worker: workerFrom(settings, records, graph),
    strandedSweeper: new StrandedInvitationSweeper(store, queue, batches, { strandedAfterMs: settings.QUEUED_STALE_AFTER_SECONDS * 1000 }),
    partnerOnboarding: new PartnerOnboarding(
      () => storage.containerClient(names.rostersContainer ?? ROSTERS_CONTAINER),
      intake,
      batchReports,
      new RosterProgressStore(records.layout.rows('roster')),
      {
        budgetMs: settings.PARTNER_ONBOARDING_BUDGET_SECONDS * 1000,
        sync: new RosterSync(store, leavers, {
          allowed: settings.INVITE_ALLOW_LEAVERS,
          maxLeaversPercent: settings.SYNC_MAX_LEAVERS_PERCENT,
          leaverAction: settings.LEAVER_ACTION,
        }),
      },
    ),
    redemptionTracker: trackerFrom(settings, records, graph, leavers),
    redemptionReset: new RedemptionReset(store, queue, graph.directory),
    leavers,
    emailResend: new EmailResend(store, queue),
    sendingPause: graph.sendingPause,
    health: graph.health,
    credentialCircuit: graph.credentialCircuit,
    rateShares: graph.rateShares,
  };
}

type Records = Awaited<ReturnType<typeof recordsFrom>>;
type Graph = ReturnType<typeof graphFrom>;

/**
 * The table, the queues and what keeps them: the store, whose every write of a record is followed
 * by its batch's copy and its caller's event (records/recordChanges.ts). The ledger reads records
 * straight from the table, so nothing here refers to the store before it exists.
 */
async function recordsFrom(settings: Settings, names: ResourceNames, storage: StorageAccount) {
  const layout = new TableLayout(storage.tableClient(names.tableName));
  const eventsQueueName = names.eventsQueueName ?? (names.queueName === INVITATIONS_QUEUE ? EVENTS_QUEUE : `${names.queueName}-events`);
  const events = new InvitationEvents(storage.queueClient(eventsQueueName), storage.queueClient(poisonQueueName(eventsQueueName)), {
    ...(settings.NOTIFY_URL ? { notifyUrl: settings.NOTIFY_URL } : {}),
    secrets: settings.NOTIFY_HMAC_SECRET,
    receiverSecrets: settings.CALLBACK_SECRETS,
    callbackAllowedHosts: settings.CALLBACK_ALLOWED_HOSTS,
    allowPrivateAddresses: settings.CALLBACK_ALLOW_PRIVATE,
    maxAttempts: settings.NOTIFY_MAX_ATTEMPTS,
    firstRetryMs: settings.NOTIFY_FIRST_RETRY_SECONDS * 1000,
  });
  const ledger = new BatchLedger(layout, async (id) => {
    const stored = await readRecord(layout, id);
    return stored && { record: stored.record, batchPosition: stored.entity.batchPosition };
  });
  const eventOutbox = new EventOutbox(layout, events);
  const store = new InvitationStore(layout, {
    queuedStaleAfterMs: settings.QUEUED_STALE_AFTER_SECONDS * 1000,
    resendMaxPerDay: settings.INVITE_RESEND_MAX_PER_DAY,
    callerResends: new CallerResendBudget(layout.rows('resends'), settings.INVITE_RESEND_MAX_PER_CALLER_PER_DAY),
    changes: new RecordChanges(ledger, events, console, eventOutbox),
    outbox: eventOutbox,
  });
  const batches = new BatchBook(new BatchIndex(layout), ledger, new RejectedRows(layout));
  const queue = new InvitationQueue(storage.queueClient(names.queueName), storage.queueClient(poisonQueueName(names.queueName)));
  await Promise.all([store.ensureTable(), queue.ensureQueues(), events.ensureQueues()]);
  return { layout, events, eventOutbox, ledger, store, batches, queue };
}

/** Submissions in: the operator's policy, the intake's signature and idempotency. */
function intakeFrom(settings: Settings, { layout, store, batches, queue }: Records, { directory }: Graph): Intake {
  const policy = {
    domains: { allowed: settings.INVITE_ALLOWED_DOMAINS, blocked: settings.INVITE_BLOCKED_DOMAINS },
    allowedGroups: settings.INVITE_ALLOWED_GROUPS,
    allowMemberType: settings.INVITE_ALLOW_MEMBER_TYPE,
    allowCc: settings.INVITE_ALLOW_CC,
    allowProfile: settings.INVITE_ALLOW_PROFILE,
    allowCustomMessage: settings.INVITE_ALLOW_CUSTOM_MESSAGE,
    allowedRedirectHosts: settings.INVITE_ALLOWED_REDIRECT_HOSTS,
    messageTemplates: settings.INVITE_MESSAGE_TEMPLATES,
    callbackAllowedHosts: settings.CALLBACK_ALLOWED_HOSTS,
  };
  const planner = new InvitationPlanner(store, directory, new TenantSettings(directory), {
    policy,
    inviteDelivery: settings.INVITE_DELIVERY,
    queuedStaleAfterMs: settings.QUEUED_STALE_AFTER_SECONDS * 1000,
    writesPerSecond: settings.GRAPH_MAX_WRITES_PER_SECOND,
    mailPerMinute: settings.MAIL_MAX_PER_MINUTE,
  });
  return new Intake(store, batches, queue, {
    policy,
    planner,
    inviteDelivery: settings.INVITE_DELIVERY,
    hmacSecrets: settings.INTAKE_HMAC_SECRET,
    hmacToleranceSeconds: settings.INTAKE_HMAC_TOLERANCE_SECONDS,
    idempotency: new IdempotencyStore(layout.rows('idempotency')),
  });
}

/**
 * Graph for this process: one credential, the sign-in circuit, the pacer within this instance's
 * share of the app's budget (agreed among the busy instances in the table), the read budget, the
 * lookup, the tenant's and the operator's pause, and the sender that uses them all.
 */
function graphFrom(settings: Settings, { layout, events }: Records) {
  // One id for this instance in every shared row (health, budget shares): Azure gives each instance one.
  const instanceId = process.env.WEBSITE_INSTANCE_ID || randomUUID();
  const health = new HealthBoard(layout.rows('health'), instanceId);
  const graphClient = new GraphInvitationsClient(graphEndpoints(settings), graphCaller(settings));
  const credentialCircuit = new CredentialCircuit({
    probe: () => graphClient.probeToken(PROBE_TIMEOUT_MS),
    probeIntervalMs: settings.GRAPH_SIGNIN_PROBE_SECONDS * 1000,
    onStateChange: (state) => {
      // A token that works again must be used: drop the credential that cached the failure.
      if (state.state === 'ok') graphClient.refreshCredential();
      health.reportCredential(state);
    },
  });
  const pacer = new GraphPacer({ maxWritesPerSecond: settings.GRAPH_MAX_WRITES_PER_SECOND });
  const rateShares = new RateShares({ rows: layout.rows('rateShares'), pacer, instanceId });
  // The share heartbeat starts when this process first wants to write.
  pacer.onDemand(() => rateShares.start());
  const directory = new GraphDirectoryClient(
    graphEndpoints(settings),
    (timeoutMs) => graphClient.token(timeoutMs),
    new ReadBudget(settings.GRAPH_MAX_READS_PER_SECOND),
  );
  const lookup = new GuestLookup(directory, (error) =>
    console.warn(
      `Graph refused to look people up (${error.code}): without User.Read.All (Application) a crash mid-call can still cost a second invitation (docs/deploy.md).`,
    ),
  );
  const sendingPause = new SendingPause(layout.rows('pause'), {
    probeIntervalMs: settings.TENANT_PAUSE_PROBE_MINUTES * 60_000,
    ...(settings.GRAPH_TENANT_ID ? { tenantId: settings.GRAPH_TENANT_ID } : {}),
    onChange: (change, state) => events.announcePause(change, state),
  });
  const sender = new InvitationSender(graphClient, pacer, credentialCircuit, lookup, sendingPause);
  return { health, credentialCircuit, pacer, rateShares, directory, sendingPause, sender, invitations: graphClient };
}

/** The queue's consumer: claims, the sender, and the follow-up (our own email, the group adds, the sponsors' check). */
function workerFrom(
  settings: Settings,
  { layout, store, queue }: Records,
  { health, credentialCircuit, pacer, directory, sender, invitations }: Graph,
) {
  const followUp = new InvitationFollowUp(store, directory, {
    circuit: credentialCircuit,
    pacer,
    invitations,
    mailbox: new MailboxBudget(layout.rows('mailbox'), {
      perMinute: settings.MAIL_MAX_PER_MINUTE,
      recipientsPerDay: settings.MAIL_MAX_RECIPIENTS_PER_DAY,
    }),
    delivery: settings.INVITE_DELIVERY,
    ...(settings.INVITE_SENDER ? { sender: settings.INVITE_SENDER } : {}),
    branding: {
      organization: settings.INVITE_BRAND_NAME ?? '',
      ...(settings.INVITE_BRAND_LOGO_URL ? { logoUrl: settings.INVITE_BRAND_LOGO_URL } : {}),
      ...(settings.INVITE_BRAND_COLOR ? { color: settings.INVITE_BRAND_COLOR } : {}),
    },
  });
  return new InvitationWorker(new InvitationClaims(store, { leaseMs: settings.CLAIM_LEASE_SECONDS * 1000 }), sender, queue, {
    invocationBudgetMs: settings.WORKER_INVOCATION_BUDGET_SECONDS * 1000,
    health,
    followUp,
    sponsors: new SponsorCheck(directory),
    guests: directory,
  });
}

/** Who accepted, reminders and expiry, within the write budget the invitations use. */
function trackerFrom(
  settings: Settings,
  { layout, store, queue }: Records,
  { directory, pacer }: Graph,
  leavers: Leavers,
): RedemptionTracker {
  return new RedemptionTracker(store, queue, directory, pacer, {
    policy: {
      ...(settings.REMINDER_AFTER !== undefined ? { reminderAfterMs: settings.REMINDER_AFTER } : {}),
      reminderMax: settings.REMINDER_MAX,
      ...(settings.EXPIRE_AFTER !== undefined ? { expireAfterMs: settings.EXPIRE_AFTER } : {}),
      expiredAction: settings.EXPIRED_ACTION,
    },
    policyMemory: new ExpiryPolicyMemory(layout.rows('lifecycle')),
    leavers,
    // A timer run, like partnerOnboarding's: it stops cleanly well inside the Functions timeout.
    budgetMs: settings.PARTNER_ONBOARDING_BUDGET_SECONDS * 1000,
  });
}

/** Leavers' guests are disabled or deleted within the write budget the invitations use. */
function leaversFrom(settings: Settings, { store }: Records, { directory, pacer }: Graph): Leavers {
  return new Leavers(store, directory, pacer, {
    allowed: settings.INVITE_ALLOW_LEAVERS,
    action: settings.LEAVER_ACTION,
    ...(settings.LEAVER_GRACE !== undefined ? { graceMs: settings.LEAVER_GRACE } : {}),
  });
}

let processDependencies: Promise<AppDependencies> | undefined;

/** The process's dependencies, from process.env; a failed creation is retried on the next call. */
export function appDependencies(): Promise<AppDependencies> {
  processDependencies ??= createAppDependencies(loadSettings()).catch((error: unknown) => {
    processDependencies = undefined;
    throw error;
  });
  return processDependencies;
}
