import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { generate } from 'selfsigned';

/**
 * A local certificate authority and a server certificate for localhost/127.0.0.1, made on first
 * use and kept in a folder. Processes that call the emulator trust the authority through
 * NODE_EXTRA_CA_CERTS, which Node reads at process start: so it must be in the environment of the
 * process that is started, never set from inside it.
 */

export interface LocalCertificate {
  /** PEM of the authority, for NODE_EXTRA_CA_CERTS. */
  caCertificatePath: string;
  /** The server certificate for localhost and 127.0.0.1, and its key: as files for Azurite's --cert/--key. */
  certificatePath: string;
  keyPath: string;
  certificatePem: string;
  privateKeyPem: string;
}

const VALID_DAYS = 365;

export async function ensureLocalCertificate(folder: string): Promise<LocalCertificate> {
  const caCertificatePath = path.join(folder, 'local-ca.pem');
  const certificatePath = path.join(folder, 'localhost.pem');
  const keyPath = path.join(folder, 'localhost.key');
  if (![caCertificatePath, certificatePath, keyPath].every((file) => existsSync(file)) || isExpiring(certificatePath)) {
    mkdirSync(folder, { recursive: true });
    const notAfterDate = new Date(Date.now() + VALID_DAYS * 86_400_000);
    const authority = await generate([{ name: 'commonName', value: 'entra-invite-pipeline local CA' }], {
      keySize: 2048,
      algorithm: 'sha256',
      notAfterDate,
      extensions: [
        { name: 'basicConstraints', cA: true, critical: true },
        { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
      ],
    });
    const server = await generate([{ name: 'commonName', value: 'localhost' }], {
      keySize: 2048,
      algorithm: 'sha256',
      notAfterDate,
      ca: { key: authority.private, cert: authority.cert },
      extensions: [
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
        { name: 'extKeyUsage', serverAuth: true },
        {
          name: 'subjectAltName',
          altNames: [
            { type: 2, value: 'localhost' },
            { type: 7, ip: '127.0.0.1' },
          ],
        },
      ],
    });
    writeFileSync(caCertificatePath, authority.cert);
    writeFileSync(certificatePath, server.cert);
    writeFileSync(keyPath, server.private, { mode: 0o600 });
  }
  return {
    caCertificatePath,
    certificatePath,
    keyPath,
    certificatePem: readFileSync(certificatePath, 'utf8'),
    privateKeyPem: readFileSync(keyPath, 'utf8'),
  };
}

function isExpiring(certificatePath: string): boolean {
  const certificate = new X509Certificate(readFileSync(certificatePath));
  return Date.parse(certificate.validTo) - Date.now() < 7 * 86_400_000;
}
