import { randomBytes } from 'node:crypto';
import { appFunctions } from '../functions/appFunctions';
import { appRoot } from '../local/appRoot';
import { freePort } from '../local/azurite';
import { LocalFunctionHost } from '../local/functionHost';
import type { LocalCertificate } from '../local/graphEmulator/localCertificate';
import { readQueueTriggerSettings } from '../local/hostJson';
import { createAppDependencies } from '../shared/appDependencies';
import { graphCaller, graphEndpoints, GraphInvitationsClient } from '../shared/graph';
import { loadSettings } from '../shared/settings';
import { storageAccountFromSettings } from '../shared/storage';
import { startBenchTenant } from './benchTenant';
import { median, percentile, round } from './measure';

/**
 * End to end at low load: one person at a time, from `POST /api/invitations` over HTTP to the
 * record reading Invited, through the local host with host.json's queue settings and the emulator
 * at Graph's 300 ms. Baseline, same run: one direct Graph call, what a script waits for.
 */

export interface EndToEndBenchResult {
  samples: number;
  p50Ms: number;
  p95Ms: number;
  directCallP50Ms: number;
  /** p50 of the pipeline over p50 of a direct call. */
  ratio: number;
  maxPollingIntervalMs: number;
}

export async function benchEndToEnd(
  connectionString: string,
  certificate: LocalCertificate,
  { samples = 30 } = {},
): Promise<EndToEndBenchResult> {
  const { emulator, graphSettings } = await startBenchTenant(certificate, { latencyMs: 300 });
  const settings = loadSettings({ AzureWebJobsStorage: connectionString, ...graphSettings });
  const suffix = randomBytes(4).toString('hex');
  // The app's functions, on this run's own queue: the queue functions are declared for `invitations`.
  const deps = await createAppDependencies(settings, { queueName: 'invitations', tableName: `e2e${suffix}` });
  const trigger = readQueueTriggerSettings(appRoot());
  const host = new LocalFunctionHost({
    functions: appFunctions.filter((definition) => definition.kind !== 'timer'),
    deps,
    storage: storageAccountFromSettings(settings),
    queueTrigger: trigger,
    port: await freePort(),
    logHandler: () => undefined,
  });
  await host.start();
  try {
    const latencies: number[] = [];
    for (let i = 0; i < samples + 1; i += 1) {
      const started = performance.now();
      const response = await fetch(`${host.url}/api/invitations`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          invitedUserEmailAddress: `e2e${i}.${suffix}@fabrikam.com`,
          inviteRedirectUrl: 'https://myapps.microsoft.com',
        }),
      });
      const { items } = (await response.json()) as { items: { id: string }[] };
      for (;;) {
        const record = (await (await fetch(`${host.url}/api/invitations/${items[0]!.id}`)).json()) as { status: string };
        if (record.status === 'Invited') break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      if (i > 0) latencies.push(performance.now() - started); // the first warms up token, connections and JIT
    }
    const client = new GraphInvitationsClient(graphEndpoints(settings), graphCaller(settings));
    const direct: number[] = [];
    for (let i = 0; i < samples + 1; i += 1) {
      const started = performance.now();
      await client.createInvitation(
        {
          invitedUserEmailAddress: `direct${i}@fabrikam.com`,
          inviteRedirectUrl: 'https://myapps.microsoft.com',
          invitedUserType: 'Guest',
          sendInvitationMessage: false,
          resetRedemption: false,
        },
        30_000,
      );
      if (i > 0) direct.push(performance.now() - started);
    }
    const p50 = median(latencies);
    return {
      samples,
      p50Ms: round(p50, 0),
      p95Ms: round(percentile(latencies, 95), 0),
      directCallP50Ms: round(median(direct), 0),
      ratio: round(p50 / median(direct), 1),
      maxPollingIntervalMs: trigger.maxPollingIntervalMs,
    };
  } finally {
    await host.stop();
    await emulator.stop();
    await Promise.all([deps.queue.queue.delete(), deps.queue.poisonQueue.delete(), deps.store.layout.client.deleteTable()]).catch(
      () => undefined,
    );
  }
}
