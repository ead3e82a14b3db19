import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ensureLocalCertificate, type LocalCertificate } from './graphEmulator/localCertificate';

/**
 * The embedded Graph emulator serves HTTPS with a local certificate authority, which this process
 * must trust; Node reads NODE_EXTRA_CA_CERTS only at start. A user's own NODE_EXTRA_CA_CERTS (a
 * corporate proxy's CA, say) is always kept: the local CA is added to it in a combined bundle,
 * never put in its place. And only a process that embeds the emulator needs any of this: with
 * real Graph credentials, nothing is changed and nothing restarts.
 */

export type TrustDecision =
  /** This process already trusts the local CA (alongside whatever the user trusted). */
  | { kind: 'trusted'; certificate: LocalCertificate }
  /** Start again with NODE_EXTRA_CA_CERTS set to this bundle. */
  | { kind: 'restart'; bundlePath: string };

export const TRUST_BUNDLE_FILE = 'trusted-bundle.pem';

/** Whether this process trusts the local CA already, or must restart with a bundle that adds it to the user's. */
export async function decideLocalTrust(env: NodeJS.ProcessEnv, certificateFolder: string): Promise<TrustDecision> {
  const certificate = await ensureLocalCertificate(certificateFolder);
  const bundlePath = path.join(certificateFolder, TRUST_BUNDLE_FILE);
  const current = env.NODE_EXTRA_CA_CERTS;
  if (current === certificate.caCertificatePath || current === bundlePath) return { kind: 'trusted', certificate };
  const authority = readFileSync(certificate.caCertificatePath, 'utf8');
  const users = current && existsSync(current) ? readFileSync(current, 'utf8') : '';
  writeFileSync(bundlePath, `${users.trimEnd()}${users ? '\n' : ''}${authority}`);
  return { kind: 'restart', bundlePath };
}

/**
 * Starts this process again with NODE_EXTRA_CA_CERTS set to the bundle, passing on its exit code
 * and signals. The caller must do nothing more.
 */
export function restartTrusting(bundlePath: string): void {
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, NODE_EXTRA_CA_CERTS: bundlePath },
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => {
    process.exitCode = code ?? (signal ? 1 : 0);
  });
}
