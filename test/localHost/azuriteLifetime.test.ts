import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TableClient } from '@azure/data-tables';
import { QueueClient } from '@azure/storage-queue';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { freePort, isPortOpen, startAzurite, type AzuritePorts } from '../../local/azurite';
import { waitFor } from '../support/graphEmulator';

const allClosed = async (ports: AzuritePorts) =>
  !(await Promise.all([isPortOpen(ports.blob), isPortOpen(ports.queue), isPortOpen(ports.table)])).some(Boolean);

describe('the Azurite that tests, benchmarks and npm start embed', () => {
  it('stops with stop()', async () => {
    const azurite = await startAzurite();
    expect(await isPortOpen(azurite.ports.queue)).toBe(true);
    await azurite.stop();
    expect(await allClosed(azurite.ports)).toBe(true);
  });

  it('saves its data on stop(): everything written just before is there after a restart on the same folder', async () => {
    const location = mkdtempSync(path.join(tmpdir(), 'azurite-lifetime-'));
    const ports = { blob: await freePort(), queue: await freePort(), table: await freePort() };
    let azurite = await startAzurite({ location, ports });
    const table = () => TableClient.fromConnectionString(azurite.connectionString, 'Saved', { allowInsecureConnection: true });
    const queue = () => new QueueClient(azurite.connectionString, 'saved');
    await table().createTable();
    await queue().create();
    for (let i = 0; i < 20; i += 1) {
      await table().createEntity({ partitionKey: 'p', rowKey: String(i) });
      await queue().sendMessage(String(i));
    }
    await azurite.stop();
    azurite = await startAzurite({ location, ports });
    try {
      let rows = 0;
      for await (const _ of table().listEntities()) rows += 1;
      expect(rows).toBe(20);
      expect((await queue().getProperties()).approximateMessagesCount).toBe(20);
    } finally {
      await azurite.stop();
    }
  });

  it('dies with the process that started it, even when that process is SIGKILLed', async () => {
    const probe = spawn(process.execPath, ['--require', 'tsx/cjs', path.join(__dirname, '..', 'support', 'azuriteProbe.ts')], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const [line] = (await once(createInterface({ input: probe.stdout! }), 'line')) as [string];
    const ports = JSON.parse(line) as AzuritePorts;
    expect(await isPortOpen(ports.queue)).toBe(true);
    probe.kill('SIGKILL');
    await once(probe, 'exit');
    await waitFor(() => allClosed(ports), { timeoutMs: 15_000, what: 'Azurite to stop after its parent was killed' });
  });
});
