import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { appRoot } from '../local/appRoot';
import { freePort, startAzurite } from '../local/azurite';
import type { LocalCertificate } from '../local/graphEmulator/localCertificate';
import { startBenchTenant } from './benchTenant';
import { median, round } from './measure';

/**
 * Memory: the local host's peak RSS (Linux VmHWM) while it works through a backlog of 5,000 queued
 * invitations, started as `npm start` starts it (node dist/local/start.js). Baseline: the same
 * process's RSS when ready and idle.
 */

export interface HostMemoryBenchResult {
  backlog: number;
  runs: number;
  idleRssMiB: number;
  peakRssMiB: number;
  ratio: number;
}

const kib = (status: string, field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);

async function once(certificate: LocalCertificate, backlog: number): Promise<{ idle: number; peak: number }> {
  const azurite = await startAzurite();
  const { emulator, graphSettings } = await startBenchTenant(certificate, {
    latencyMs: 50,
    writeBudget: { limit: 100_000, windowMs: 150_000 },
  });
  const port = await freePort();
  const child = spawn(process.execPath, [path.join(appRoot(), 'dist', 'local', 'start.js')], {
    env: {
      ...process.env,
      PORT: String(port),
      AzureWebJobsStorage: azurite.connectionString,
      ...graphSettings,
      GRAPH_MAX_WRITES_PER_SECOND: '200',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    await new Promise<void>((resolve, reject) => {
      let output = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('Ready.')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`The local host exited with ${code}: ${output}`)));
    });
    const status = () => readFileSync(`/proc/${child.pid}/status`, 'utf8');
    const idle = kib(status(), 'VmRSS');
    for (let start = 0; start < backlog; start += 1_000) {
      const invitations = Array.from({ length: Math.min(1_000, backlog - start) }, (_, i) => ({
        invitedUserEmailAddress: `backlog${start + i}@fabrikam.com`,
        inviteRedirectUrl: 'https://myapps.microsoft.com',
      }));
      const response = await fetch(`http://localhost:${port}/api/invitations`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ invitations }),
      });
      if (response.status !== 202) throw new Error(`Submitting the backlog failed: ${response.status}`);
    }
    while (emulator.calls.filter((call) => call.status === 201).length < backlog) await new Promise((resolve) => setTimeout(resolve, 500));
    return { idle, peak: kib(status(), 'VmHWM') };
  } finally {
    child.kill('SIGKILL');
    await emulator.stop();
    await azurite.stop();
  }
}

export async function benchHostMemory(certificate: LocalCertificate, { backlog = 5_000, runs = 3 } = {}): Promise<HostMemoryBenchResult> {
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(appRoot(), 'tsconfig.local.json')], {
    stdio: 'inherit',
  });
  const measured: { idle: number; peak: number }[] = [];
  for (let run = 0; run < runs; run += 1) measured.push(await once(certificate, backlog));
  const idle = median(measured.map((m) => m.idle)) / 1024;
  const peak = median(measured.map((m) => m.peak)) / 1024;
  return { backlog, runs, idleRssMiB: round(idle, 1), peakRssMiB: round(peak, 1), ratio: round(peak / idle, 2) };
}
