import { spawn } from 'node:child_process';
import { ensureLocalCertificate, type LocalCertificate } from './graphEmulator/localCertificate';
import { localCertificateFolder } from './appRoot';

/**
 * Makes sure this process trusts the local certificate authority. Node reads NODE_EXTRA_CA_CERTS
 * only at start, so when it is not set yet the process starts itself again with it, passes its
 * exit code on, and `undefined` is returned to the caller (which must then do nothing more).
 */
export async function trustLocalCertificate(): Promise<LocalCertificate | undefined> {
  const certificate = await ensureLocalCertificate(localCertificateFolder());
  if (process.env.NODE_EXTRA_CA_CERTS === certificate.caCertificatePath) return certificate;
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, NODE_EXTRA_CA_CERTS: certificate.caCertificatePath },
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => {
    process.exitCode = code ?? (signal ? 1 : 0);
  });
  return undefined;
}
