import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { freePort } from '../../local/azurite';

const ROOT = path.join(__dirname, '..', '..');

export interface LocalHostProcess {
  url: string;
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** Starts the local host as `npm start` does (without the build step), and waits until it is ready. */
export async function startLocalHostProcess(env: Record<string, string>, port?: number): Promise<LocalHostProcess> {
  const hostPort = port ?? (await freePort());
  const child = spawn(process.execPath, ['--require', 'tsx/cjs', path.join(ROOT, 'local', 'start.ts')], {
    cwd: ROOT,
    env: { ...process.env, PORT: String(hostPort), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`The local host was not ready in 30 s:\n${output}`)), 30_000);
    const check = () => {
      if (output.includes('Ready.')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`The local host exited with ${code} before it was ready:\n${output}`));
    });
  });
  return { url: `http://localhost:${hostPort}`, child, output: () => output, exited };
}

export async function stopLocalHostProcess(host: LocalHostProcess | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  if (!host || host.child.exitCode !== null || host.child.signalCode !== null) return host?.child.exitCode ?? null;
  host.child.kill(signal);
  return host.exited;
}
