import { randomUUID } from 'node:crypto';
import { BatchBook } from './batches/batchBook';
import { BatchIndex } from './batches/batchIndex';
import { BatchLedger } from './batches/batchLedger';
import { BatchRedrive } from './batches/batchRedrive';
import { RejectedRows } from './batches/rejectedRows';
import { BatchReports } from './batches/batchReports';
import { Intake } from './intake/intake';
import { graphCaller, graphEndpoints } from './graph/graphCaller';
import { GraphInvitationsClient } from './graph/graphInvitationsClient';
import { GraphPacer } from './graph/graphPacer';
import { CredentialCircuit } from './graph/credentialCircuit';
import { RateShares } from './graph/rateShares';
import { HealthBoard } from './healthBoard';
import { IdempotencyStore } from './intake/idempotencyStore';
import { InvitationSender } from './graph/invitationSender';
import { InvitationClaims } from './worker/invitationClaims';
import { INVITATIONS_QUEUE, InvitationQueue, poisonQueueName } from './storage/invitationQueue';
import { InvitationWorker } from './worker/invitationWorker';
import { PartnerOnboarding, ROSTERS_CONTAINER } from './rosters/partnerOnboarding';
import { RosterProgressStore } from './rosters/rosterProgress';
import { INVITATIONS_TABLE, InvitationStore } from './storage/invitationStore';
import { loadSettings, type Settings } from './settings';
import { storageAccountFromSettings, type StorageAccount } from './storage/storageAccount';
import { StrandedInvitationSweeper } from './worker/strandedInvitationSweeper';

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
}

export interface ResourceNames {
  queueName: string;
  tableName: string;
  /** Default `partner-rosters`. */
  rostersContainer?: string;
}

// A probe is one token request; Entra answers in well under a second when it answers at all.
const PROBE_TIMEOUT_MS = 10_000;

export const DEFAULT_RESOURCE_NAMES: ResourceNames = { queueName: INVITATIONS_QUEUE, tableName: INVITATIONS_TABLE };

export async function createAppDependencies(
  settings: Settings,
  names: ResourceNames = DEFAULT_RESOURCE_NAMES,
  storage: StorageAccount = storageAccountFromSettings(settings),
): Promise<AppDependencies> {
  const table = storage.tableClient(names.tableName);
  const store: InvitationStore = new InvitationStore(table, {
    queuedStaleAfterMs: settings.QUEUED_STALE_AFTER_SECONDS * 1000,
    // A batch copy that could not follow its record is caught up by the sweep's reconciliation:
    // the worker's own work must not fail for it.
    afterChange: ({ batchId, recordId, batchPosition }) =>
      batchPosition === undefined
        ? Promise.resolve()
        : ledger.sync(batchId, recordId, batchPosition).catch((error: unknown) => {
            console.warn(
              `Batch ${batchId}: its copy of invitation ${recordId} lags (${String(error).split('\n')[0]}); the next sweep catches it up.`,
            );
          }),
  });
  const ledger = new BatchLedger(table, async (id) => {
    const stored = await store.getById(id);
    return stored && { record: stored.record, batchPosition: stored.entity.batchPosition };
  });
  const batches = new BatchBook(new BatchIndex(table), ledger, new RejectedRows(table));
  const queue = new InvitationQueue(storage.queueClient(names.queueName), storage.queueClient(poisonQueueName(names.queueName)));
  await Promise.all([store.ensureTable(), queue.ensureQueues()]);
  const intake = new Intake(store, batches, queue, {
    domainPolicy: { allowed: settings.INVITE_ALLOWED_DOMAINS, blocked: settings.INVITE_BLOCKED_DOMAINS },
    hmacSecrets: settings.INTAKE_HMAC_SECRET,
    hmacToleranceSeconds: settings.INTAKE_HMAC_TOLERANCE_SECONDS,
    idempotency: new IdempotencyStore(store.table),
  });
  const claims = new InvitationClaims(store, { leaseMs: settings.CLAIM_LEASE_SECONDS * 1000 });
  const graphClient = new GraphInvitationsClient(graphEndpoints(settings), graphCaller(settings));
  // One id for this instance in every shared row (health, budget shares): Azure gives each instance one.
  const instanceId = process.env.WEBSITE_INSTANCE_ID || randomUUID();
  const health = new HealthBoard(store.table, instanceId);
  const credentialCircuit = new CredentialCircuit({
    probe: () => graphClient.probeToken(PROBE_TIMEOUT_MS),
    probeIntervalMs: settings.GRAPH_SIGNIN_PROBE_SECONDS * 1000,
    onStateChange: (state) => {
      // A token that works again must be used: drop the credential that cached the failure.
      if (state.state === 'ok') graphClient.refreshCredential();
      health.reportCredential(state);
    },
  });
  // One budget for the app: the pacer adapts within this instance's share, which the busy instances agree on in the table.
  const pacer = new GraphPacer({ maxWritesPerSecond: settings.GRAPH_MAX_WRITES_PER_SECOND, onDemand: () => rateShares.start() });
  const rateShares = new RateShares({ table: store.table, pacer, instanceId });
  const sender = new InvitationSender(graphClient, pacer, credentialCircuit);
  const worker = new InvitationWorker(claims, sender, queue, {
    invocationBudgetMs: settings.WORKER_INVOCATION_BUDGET_SECONDS * 1000,
    health,
  });
  const batchReports = new BatchReports(store, ledger, batches.rejectedRows, batches.index);
  const partnerOnboarding = new PartnerOnboarding(
    () => storage.containerClient(names.rostersContainer ?? ROSTERS_CONTAINER),
    intake,
    batchReports,
    new RosterProgressStore(store.table),
    {
      budgetMs: settings.PARTNER_ONBOARDING_BUDGET_SECONDS * 1000,
    },
  );
  const strandedSweeper = new StrandedInvitationSweeper(store, queue, batches, {
    strandedAfterMs: settings.QUEUED_STALE_AFTER_SECONDS * 1000,
  });
  return {
    settings,
    store,
    queue,
    intake,
    batchReports,
    batches,
    batchRedrive: new BatchRedrive(store, ledger, intake),
    worker,
    partnerOnboarding,
    strandedSweeper,
    health,
    credentialCircuit,
    rateShares,
  };
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
