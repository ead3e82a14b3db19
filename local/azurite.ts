import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer, connect } from 'node:net';
import path from 'node:path';
import { appRoot } from './appRoot';

/**
 * Azurite from node_modules, as a child process (`require('azurite')` does not work). Used by the
 * tests, the benchmarks and `npm start`. Azurite and the storage SDKs move together (package.json):
 * Azurite refuses an API version newer than it knows, so no check is skipped, and an SDK that
 * outruns Azurite fails the tests rather than being tested against an older service. Today:
 * Azurite 3.37 knows 2026-06-06, which @azure/storage-queue 12.32 and @azure/storage-blob 12.33
 * speak; storage-blob 12.34 speaks 2026-10-06, so it waits for the next Azurite.
 */

export const DEVELOPMENT_ACCOUNT = 'devstoreaccount1';
export const DEVELOPMENT_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface AzuritePorts {
  blob: number;
  queue: number;
  table: number;
}

export interface RunningAzurite {
  ports: AzuritePorts;
  connectionString: string;
  stop(): Promise<void>;
}

export interface AzuriteOptions {
  /** Folder for data on disk; in memory when absent. */
  location?: string;
  /** Fixed ports (npm start uses 10000-10002); free ones are picked when absent. */
  ports?: AzuritePorts;
  /**
   * HTTPS with Entra tokens instead of the account key, as a deployed app reaches storage with its
   * managed identity (Azurite's `--oauth basic`: it checks a token's issuer, audience and lifetime).
   */
  oauth?: { certificatePath: string; keyPath: string };
}

export function developmentConnectionString(ports: AzuritePorts, host = '127.0.0.1'): string {
  return (
    `DefaultEndpointsProtocol=http;AccountName=${DEVELOPMENT_ACCOUNT};AccountKey=${DEVELOPMENT_KEY};` +
    `BlobEndpoint=http://${host}:${ports.blob}/${DEVELOPMENT_ACCOUNT};` +
    `QueueEndpoint=http://${host}:${ports.queue}/${DEVELOPMENT_ACCOUNT};` +
    `TableEndpoint=http://${host}:${ports.table}/${DEVELOPMENT_ACCOUNT};`
  );
}

/**
 * A few lines of Node between us and Azurite, so that Azurite dies with the process that started
 * it even when that process is SIGKILLed (a killed test run or benchmark left Azurite running,
 * holding ports and CPU). The guard holds the read end of a pipe whose write end only we hold:
 * when we die, it reads end-of-file and kills Azurite. Both run in their own process group, which
 * stop() signals as a whole. The guard starts Azurite with our two patches loaded first:
 * azuriteQueueSweep.cjs (its queue's sweep of deleted messages otherwise holds Azurite for seconds
 * once a minute) and azuriteTableBatch.cjs (a line separator in an entity's JSON failed its transaction).
 */
const AZURITE_PATCHES = ['azuriteQueueSweep.cjs', 'azuriteTableBatch.cjs'];

const azuriteGuard = () => `
const { spawn } = require('node:child_process');
const azurite = spawn(process.execPath, [${AZURITE_PATCHES.map((patch) => `'--require', ${JSON.stringify(path.join(appRoot(), 'local', patch))}`).join(', ')}, ...process.argv.slice(1)], { stdio: ['ignore', 'ignore', 'inherit'] });
const kill = () => azurite.kill('SIGKILL');
process.stdin.on('end', kill).on('error', kill).resume();
// stop() signals the whole group, so Azurite has its SIGTERM already; a second one would kill it
// before it saves its data (it handles the signal once). The guard just outlives it.
process.on('SIGTERM', () => undefined);
azurite.on('exit', (code) => process.exit(code ?? 1));
`;

export async function startAzurite(options: AzuriteOptions = {}): Promise<RunningAzurite> {
  const ports = options.ports ?? { blob: await freePort(), queue: await freePort(), table: await freePort() };
  const script = path.join(require.resolve('azurite/package.json'), '..', 'dist', 'src', 'azurite.js');
  const args = [
    script,
    '--silent',
    '--disableTelemetry',
    '--loose',
    '--blobHost',
    '127.0.0.1',
    '--blobPort',
    String(ports.blob),
    '--queueHost',
    '127.0.0.1',
    '--queuePort',
    String(ports.queue),
    '--tableHost',
    '127.0.0.1',
    '--tablePort',
    String(ports.table),
    ...(options.location ? ['--location', options.location] : ['--inMemoryPersistence']),
    ...(options.oauth ? ['--oauth', 'basic', '--cert', options.oauth.certificatePath, '--key', options.oauth.keyPath] : []),
  ];
  // Through the guard, in a process group of its own: see azuriteGuard.
  const child = spawn(process.execPath, ['-e', azuriteGuard(), ...args], { stdio: ['pipe', 'ignore', 'pipe'], detached: true });
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // already gone
    }
  };
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  try {
    await Promise.race([
      Promise.all([waitForPort(ports.blob), waitForPort(ports.queue), waitForPort(ports.table)]),
      once(child, 'exit').then(([code]) => {
        throw new Error(`Azurite exited with code ${code} before listening: ${stderr.trim()}`);
      }),
    ]);
  } catch (error) {
    signalGroup('SIGKILL');
    throw error;
  }
  // Azurite must not outlive the process that started it: on a normal exit this handler stops it,
  // and if the process is killed outright the guard sees its stdin close.
  const killOnExit = () => signalGroup('SIGKILL');
  process.once('exit', killOnExit);
  return {
    ports,
    connectionString: developmentConnectionString(ports),
    stop: async () => {
      process.off('exit', killOnExit);
      await stopChild(child, signalGroup);
    },
  };
}

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

export async function isPortOpen(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function waitForPort(port: number, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await isPortOpen(port))) {
    if (Date.now() > deadline) throw new Error(`Nothing listened on port ${port} within ${timeoutMs} ms.`);
    await new Promise((resolve) => setTimeout(resolve, 50)); // polling a port: there is no event to await
  }
}

async function stopChild(child: ChildProcess, signalGroup: (signal: NodeJS.Signals) => void): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  signalGroup('SIGTERM');
  const timer = setTimeout(() => signalGroup('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}
