import type { Server } from 'node:http';
import { request as httpRequest } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appFunctions } from '../../functions/appFunctions';
import type { TimerFunctionDefinition } from '../../functions/runtime/defineFunction';
import { freePort } from '../../local/azurite';
import { LocalFunctionHost, PortInUseError } from '../../local/functionHost';
import { loadLocalSettings } from '../../local/localSettings';
import type { AppDependencies } from '../../shared/appDependencies';
import { encodeQueueMessage } from '../../shared/storage/invitationQueue';
import { storageAccountFromSettings } from '../../shared/storage/storageAccount';
import { createTestDependencies, invitationFor } from '../support/harness';
import { startEmulatedTenant, waitFor, type EmulatedTenant } from '../support/graphEmulator';
import { CapturedLogs, FAST_TRIGGER, waitForStatus } from '../support/pipeline';

let tenant: EmulatedTenant;
let deps: AppDependencies;
let host: LocalFunctionHost;
const logs = new CapturedLogs();
const timerRuns: string[] = [];

// A timer of the tests' own, next to the app's functions: the host runs timers on their NCRONTAB schedule.
const everySecond: TimerFunctionDefinition = {
  kind: 'timer',
  name: 'everySecond',
  schedule: '%TEST_TIMER_SCHEDULE%',
  handler: () => async (timer) => {
    timerRuns.push(timer.scheduleStatus?.next ?? 'admin');
  },
};

function newHost(port: number, functions = [...appFunctions, everySecond]) {
  return new LocalFunctionHost({
    functions,
    deps,
    storage: storageAccountFromSettings(deps.settings),
    queueTrigger: FAST_TRIGGER,
    port,
    logHandler: logs.handler,
    env: { TEST_TIMER_SCHEDULE: '*/1 * * * * *' },
  });
}

beforeAll(async () => {
  tenant = await startEmulatedTenant({ latencyMs: 0 });
  deps = await createTestDependencies(tenant.settings);
  // The app's queue functions listen on the app's queue names; this host's deps use the test's own.
  host = newHost(await freePort(), [...appFunctions.filter((definition) => definition.kind === 'http'), everySecond]);
  await host.start();
});
afterAll(async () => {
  await host?.stop();
  await tenant?.emulator.stop();
});

describe('the local host', () => {
  it('serves the HTTP functions under /api with their routes and methods', async () => {
    const created = await fetch(`${host.url}/api/invitations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(invitationFor('ann@fabrikam.com')),
    });
    expect(created.status).toBe(202);
    const { items } = (await created.json()) as { items: { id: string }[] };
    const read = await fetch(`${host.url}/api/invitations/${items[0]!.id}`);
    expect(read.status).toBe(200);
    expect(((await read.json()) as { email: string }).email).toBe('ann@fabrikam.com');
    expect((await fetch(`${host.url}/api/nothing-here`)).status).toBe(404);
    expect((await fetch(`${host.url}/api/invitations`, { method: 'PATCH' })).status).toBe(405);
  });

  it("answers bad input with the function's own problem response", async () => {
    const response = await fetch(`${host.url}/api/invitations`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'hello',
    });
    expect(response.status).toBe(415);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });

  it('runs timer functions on their NCRONTAB schedule, with %SETTING% resolved', async () => {
    const before = timerRuns.length;
    await waitFor(async () => timerRuns.length >= before + 2, { timeoutMs: 5_000, what: 'two timer runs' });
  });

  it('runs a non-HTTP function now through POST /admin/functions/{name}', async () => {
    const response = await fetch(`${host.url}/admin/functions/everySecond`, { method: 'POST', headers: JSON_CONTENT, body: '{}' });
    expect(response.status).toBe(202);
    await waitFor(async () => timerRuns.includes(''), { timeoutMs: 5_000, what: 'the admin-triggered run' });
    expect((await fetch(`${host.url}/admin/functions/noSuchFunction`, { method: 'POST', headers: JSON_CONTENT, body: '{}' })).status).toBe(
      404,
    );
  });

  it('listens on the loopback interface only, by default', () => {
    expect((host as unknown as { server: Server }).server.address()).toMatchObject({ address: '127.0.0.1' });
  });

  it('refuses a request whose Host is not its own name (DNS rebinding), and runs nothing', async () => {
    const port = Number(new URL(host.url).port);
    const adminRunsBefore = timerRuns.filter((run) => run === '').length;
    for (const hostHeader of [`attacker.example:${port}`, `localhost:${port + 1}`, '']) {
      const answer = await rawRequest(port, '/admin/functions/everySecond', { host: hostHeader, 'content-type': 'application/json' }, '{}');
      expect(answer.status).toBe(421);
    }
    expect((await rawRequest(port, '/api/nowhere', { host: `127.0.0.1:${port}` })).status).toBe(404);
    expect(timerRuns.filter((run) => run === '').length).toBe(adminRunsBefore);
  });

  it('takes only application/json on its admin API, which no web page can send cross-origin without a preflight (CSRF)', async () => {
    for (const contentType of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const response = await fetch(`${host.url}/admin/functions/everySecond`, {
        method: 'POST',
        headers: { 'content-type': contentType },
        body: '{}',
      });
      expect(response.status).toBe(415);
    }
  });

  it('runs a queue function through the admin API with the message as input', async () => {
    const submitted = await deps.intake.submit({
      contentType: 'application/json',
      body: Buffer.from(JSON.stringify(invitationFor('admin@fabrikam.com'))),
    });
    const id = submitted.items[0]!.id;
    const adminHost = newHost(
      await freePort(),
      appFunctions.filter((definition) => definition.name === 'processInvitation'),
    );
    await adminHost.start();
    try {
      await deps.queue.queue.clearMessages();
      const response = await fetch(`${adminHost.url}/admin/functions/processInvitation`, {
        method: 'POST',
        headers: JSON_CONTENT,
        body: JSON.stringify({ input: JSON.stringify({ id, batchId: submitted.batchId, queuedAt: new Date().toISOString() }) }),
      });
      expect(response.status).toBe(202);
      await waitForStatus(deps, id, 'Invited');
    } finally {
      await adminHost.stop();
    }
  });

  it('says clearly when its port is taken', async () => {
    const second = newHost(Number(new URL(host.url).port), []);
    await expect(second.start()).rejects.toThrow(PortInUseError);
    await expect(second.start()).rejects.toThrow(/Port \d+ is already in use.*PORT=/);
  });

  it('shuts down gracefully: stops taking messages and finishes the ones in flight', async () => {
    tenant.emulator.configure({ latencyMs: 1_500 });
    const worker = newHost(
      await freePort(),
      appFunctions.filter((definition) => definition.kind === 'queue'),
    );
    // This host's queue functions listen on the app's queue name; route its messages to the test's records.
    const submitted = await deps.intake.submit({
      contentType: 'application/json',
      body: Buffer.from(JSON.stringify(invitationFor('graceful@fabrikam.com'))),
    });
    const id = submitted.items[0]!.id;
    await deps.queue.queue.clearMessages();
    const appQueue = storageAccountFromSettings(deps.settings).queueClient('invitations');
    await appQueue.createIfNotExists();
    await appQueue.clearMessages();
    await worker.start();
    await appQueue.sendMessage(encodeQueueMessage({ id, batchId: submitted.batchId, queuedAt: new Date().toISOString() }));
    await waitForStatus(deps, id, 'Processing');
    await worker.stop();
    expect((await deps.store.getById(id))?.record.status).toBe('Invited');
    tenant.emulator.configure({ latencyMs: 0 });
  });
});

const JSON_CONTENT = { 'content-type': 'application/json' };

/** An HTTP request with the Host header we choose (fetch sets its own). */
function rawRequest(port: number, path: string, headers: Record<string, string>, body?: string): Promise<{ status: number }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      { host: '127.0.0.1', port, path, method: body === undefined ? 'GET' : 'POST', headers, setHost: false },
      (response) => {
        response.resume();
        resolve({ status: response.statusCode ?? 0 });
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

describe('local.settings.json', () => {
  it('becomes environment variables, but the real environment wins', () => {
    const folder = mkdtempSync(path.join(tmpdir(), 'local-settings-'));
    writeFileSync(
      path.join(folder, 'local.settings.json'),
      JSON.stringify({ IsEncrypted: false, Values: { A_SETTING: 'from-file', B_SETTING: 'from-file', C_NUMBER: 5 } }),
    );
    const env: NodeJS.ProcessEnv = { B_SETTING: 'from-environment' };
    const { applied } = loadLocalSettings(folder, env);
    expect(env).toMatchObject({ A_SETTING: 'from-file', B_SETTING: 'from-environment', C_NUMBER: '5' });
    expect(applied.sort()).toEqual(['A_SETTING', 'C_NUMBER']);
  });

  it('is optional', () => {
    expect(loadLocalSettings(mkdtempSync(path.join(tmpdir(), 'no-settings-')), {})).toEqual({ applied: [] });
  });
});
