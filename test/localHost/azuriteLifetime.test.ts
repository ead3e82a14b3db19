import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { isPortOpen, startAzurite, type AzuritePorts } from '../../local/azurite';
import { waitFor } from '../support/graphEmulator';

const allClosed = async (ports: AzuritePorts) => !(await Promise.all([isPortOpen(ports.blob), isPortOpen(ports.queue), isPortOpen(ports.table)])).some(Boolean);

describe('the Azurite that tests, benchmarks and npm start embed', () => {
  it('stops with stop()', async () => {
    const azurite = await startAzurite();
    expect(await isPortOpen(azurite.ports.queue)).toBe(true);
    await azurite.stop();
    expect(await allClosed(azurite.ports)).toBe(true);
  });

  it('dies with the process that started it, even when that process is SIGKILLed', async () => {
    const probe = spawn(process.execPath, ['--require', 'tsx/cjs', path.join(__dirname, '..', 'support', 'azuriteProbe.ts')], { stdio: ['ignore', 'pipe', 'inherit'] });
    const [line] = (await once(createInterface({ input: probe.stdout! }), 'line')) as [string];
    const ports = JSON.parse(line) as AzuritePorts;
    expect(await isPortOpen(ports.queue)).toBe(true);
    probe.kill('SIGKILL');
    await once(probe, 'exit');
    await waitFor(() => allClosed(ports), { timeoutMs: 15_000, what: 'Azurite to stop after its parent was killed' });
  });
});
