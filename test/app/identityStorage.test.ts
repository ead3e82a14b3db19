import { QueueClient } from '@azure/storage-queue';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startAzurite, type RunningAzurite } from '../../local/azurite';
import type { IdentityEndpoint } from '../../local/graphEmulator/identityEndpoint';
import { ensureLocalCertificate } from '../../local/graphEmulator/localCertificate';
import { createAppDependencies, type AppDependencies } from '../../shared/appDependencies';
import { loadSettings } from '../../shared/settings';
import { announceIdentityEndpoint, startEmulatedTenant, type EmulatedTenant } from '../support/graphEmulator';
import { invitationFor, submit, uniqueResourceNames } from '../support/harness';
import { startWorker, waitForStatus } from '../support/pipeline';

/**
 * The app as infra/ deploys it: no account key and no secret anywhere. Storage through the
 * identity-based AzureWebJobsStorage__* settings and Graph through GRAPH_CLIENT_ID, both as the
 * user-assigned managed identity, whose tokens come from the identity endpoint Azure Functions
 * provides (IDENTITY_ENDPOINT). Azurite runs over HTTPS with `--oauth basic`, so it accepts Entra
 * tokens for storage and refuses requests without one.
 */

const IDENTITY = '6f1a3c2e-8d4b-4e5f-9a7c-1b2d3e4f5a6b';
let azurite: RunningAzurite;
let tenant: EmulatedTenant;
let endpoint: IdentityEndpoint;
let stopEndpoint: (() => Promise<void>) | undefined;
let deps: AppDependencies;
let serviceUri: (service: 'blob' | 'queue' | 'table') => string;

beforeAll(async () => {
  const certificate = await ensureLocalCertificate(inject('localCertificateFolder'));
  azurite = await startAzurite({ oauth: certificate });
  serviceUri = (service) => `https://localhost:${azurite.ports[service]}/devstoreaccount1`;
  tenant = await startEmulatedTenant({
    apps: [{ tenantId: 'b5c9e1a2-3d4f-4a6b-8c7d-9e0f1a2b3c4d', clientId: IDENTITY, managedIdentity: 'user-assigned' }],
  });
  ({ endpoint, stop: stopEndpoint } = await announceIdentityEndpoint(tenant.emulator));
  const settings = loadSettings({
    AzureWebJobsStorage__blobServiceUri: serviceUri('blob'),
    AzureWebJobsStorage__queueServiceUri: serviceUri('queue'),
    AzureWebJobsStorage__tableServiceUri: serviceUri('table'),
    AzureWebJobsStorage__credential: 'managedidentity',
    AzureWebJobsStorage__clientId: IDENTITY,
    GRAPH_CLIENT_ID: IDENTITY,
    GRAPH_AUTHORITY_HOST: tenant.emulator.authorityHost,
    GRAPH_ENDPOINT: tenant.emulator.graphEndpoint,
  });
  deps = await createAppDependencies(settings, uniqueResourceNames('mi'));
});
afterAll(async () => {
  await stopEndpoint?.();
  await tenant?.emulator.stop();
  await azurite?.stop();
});

describe('the deployed configuration: managed identity for storage and Graph, no keys', () => {
  it('takes a submission, queues it and invites the person, as the identity everywhere', async () => {
    const running = startWorker(deps);
    try {
      const response = await submit(deps, invitationFor('keyless@fabrikam.com'));
      expect(response.status).toBe(202);
      const record = await waitForStatus(deps, response.json.items[0].id, 'Invited');
      expect(record.attempts).toBe(1);
      expect(tenant.emulator.callsFor('keyless@fabrikam.com').map((call) => [call.status, call.clientId])).toEqual([[201, IDENTITY]]);
      const resources = new Set(endpoint.issued.map(({ clientId, resource }) => `${clientId} ${resource}`));
      expect(resources).toEqual(new Set([`${IDENTITY} https://storage.azure.com`, `${IDENTITY} ${tenant.emulator.graphEndpoint}`]));
    } finally {
      await running.stop();
    }
  });

  it('reads rosters from blob storage the same way', async () => {
    const container = deps.partnerOnboarding.container();
    await container.createIfNotExists();
    const roster = JSON.stringify({ invitations: [invitationFor('roster-keyless@fabrikam.com')] });
    await container.getBlockBlobClient('keyless.json').upload(roster, Buffer.byteLength(roster));
    const run = await deps.partnerOnboarding.run({ info: () => undefined, warn: () => undefined });
    expect(run.recorded).toEqual(['keyless.json']);
  });

  it('is refused by storage without a token: the identity is what lets the app in', async () => {
    const anonymous = new QueueClient(`${serviceUri('queue')}/${deps.queue.queue.name}`);
    const status = await anonymous.getProperties().then(
      () => 200,
      (error: { statusCode?: number }) => error.statusCode,
    );
    expect(status).toBe(403);
  });
});
