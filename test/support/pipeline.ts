import type { LogHandler } from '@azure/functions';
import { processInvitation } from '../../functions/processInvitation';
import { recordDeadLetter } from '../../functions/recordDeadLetter';
import { QueueListener, type QueueTriggerSettings } from '../../local/queueListener';
import { appFunctions } from '../../functions/appFunctions';
import { freePort } from '../../local/azurite';
import { LocalFunctionHost } from '../../local/functionHost';
import { storageAccountFromSettings } from '../../shared/storage/storageAccount';
import type { AppDependencies } from '../../shared/appDependencies';
import type { InvitationRecord, InvitationStatus } from '../../shared/core/invitationRecord';
import { FINAL_STATUSES } from '../../shared/core/invitationRecord';
import { createTestDependencies } from './harness';
import { startEmulatedTenant, waitFor } from './graphEmulator';

/** Fast queue-trigger settings for tests: the host's semantics, shorter waits. */
export const FAST_TRIGGER: QueueTriggerSettings = {
  batchSize: 16,
  newBatchThreshold: 8,
  maxPollingIntervalMs: 200,
  visibilityTimeoutMs: 200,
  maxDequeueCount: 3,
  messageEncoding: 'base64',
};

/** Every line the functions logged, for tests that read or scan them. */
export class CapturedLogs {
  readonly lines: string[] = [];
  readonly handler: LogHandler = (level, ...args) => {
    this.lines.push(`${level}: ${args.map((arg) => (typeof arg === 'string' ? arg : JSON.stringify(arg))).join(' ')}`);
  };
  text(): string {
    return this.lines.join('\n');
  }
}

/** The worker and the poison handler listening on the test's queues, as the Functions host would run them. */
export function startWorker(deps: AppDependencies, logs = new CapturedLogs(), trigger: Partial<QueueTriggerSettings> = {}) {
  const settings = { ...FAST_TRIGGER, ...trigger };
  const worker = new QueueListener({
    ...settings,
    functionName: processInvitation.name,
    queue: deps.queue.queue,
    poisonQueue: deps.queue.poisonQueue,
    handler: processInvitation.handler(deps),
    logHandler: logs.handler,
  });
  const poison = new QueueListener({
    ...settings,
    functionName: recordDeadLetter.name,
    queue: deps.queue.poisonQueue,
    poisonQueue: deps.queue.queue, // never used: recordDeadLetter does not fail for long
    handler: recordDeadLetter.handler(deps),
    logHandler: logs.handler,
  });
  worker.start();
  poison.start();
  return {
    worker,
    logs,
    stop: async () => {
      await Promise.all([worker.stop(), poison.stop()]);
    },
  };
}

export async function waitForStatus(
  deps: AppDependencies,
  id: string,
  status?: InvitationStatus,
  timeoutMs = 20_000,
): Promise<InvitationRecord> {
  return waitFor(
    async () => {
      const record = (await deps.store.getById(id))?.record;
      return record && (status ? record.status === status : FINAL_STATUSES.has(record.status)) ? record : undefined;
    },
    { timeoutMs, what: `invitation ${id} to be ${status ?? 'final'}` },
  );
}

/**
 * An emulated tenant, the app's dependencies pointed at it, and the worker running: what a test of
 * the whole worker path needs. `cleanup` collects the steps that stop it (run them after the test).
 */
export async function startPipeline(
  cleanup: (() => Promise<void>)[],
  emulator: Parameters<typeof startEmulatedTenant>[0],
  env: Record<string, string> = {},
  trigger: Partial<QueueTriggerSettings> = {},
) {
  const tenant = await startEmulatedTenant(emulator);
  const deps = await createTestDependencies({ ...tenant.settings, ...env });
  const logs = new CapturedLogs();
  const running = startWorker(deps, logs, trigger);
  cleanup.push(
    () => tenant.emulator.stop(),
    () => running.stop(),
  );
  return { tenant, deps, logs, running };
}

/** The app's HTTP functions served over real HTTP by the local host, on a free port (stop it after the test). */
export async function startHttpHost(deps: AppDependencies): Promise<LocalFunctionHost> {
  const host = new LocalFunctionHost({
    functions: appFunctions.filter((definition) => definition.kind === 'http'),
    deps,
    storage: storageAccountFromSettings(deps.settings),
    queueTrigger: FAST_TRIGGER,
    port: await freePort(),
    logHandler: () => undefined,
  });
  await host.start();
  return host;
}
