import { constants, createHash, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';

/** Just enough JWT for the emulator: RS256 access tokens it issues, RS256/PS256 client assertions it checks. */

const encode = (value: unknown) => Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');

export function signJwt(payload: Record<string, unknown>, privateKey: KeyObject, keyId: string): string {
  const signingInput = `${encode({ alg: 'RS256', typ: 'JWT', kid: keyId })}.${encode(payload)}`;
  return `${signingInput}.${sign('sha256', Buffer.from(signingInput), privateKey).toString('base64url')}`;
}

export interface DecodedJwt {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
  signingInput: string;
  signature: Buffer;
}

export function decodeJwt(token: string): DecodedJwt | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    return {
      header: JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8')),
      payload: JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')),
      signingInput: `${parts[0]}.${parts[1]}`,
      signature: Buffer.from(parts[2]!, 'base64url'),
    };
  } catch {
    return undefined;
  }
}

export function verifyJwtSignature(jwt: DecodedJwt, publicKey: KeyObject): boolean {
  const data = Buffer.from(jwt.signingInput);
  switch (jwt.header.alg) {
    case 'RS256':
      return verify('sha256', data, publicKey, jwt.signature);
    case 'PS256':
      return verify('sha256', data, { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, jwt.signature);
    default:
      return false;
  }
}

/** The `x5t#S256` thumbprint MSAL puts in a client assertion's header. */
export function certificateThumbprintS256(certificatePem: string): string {
  const der = certificateDer(certificatePem);
  return createHash('sha256').update(der).digest('base64url');
}

function certificateDer(certificatePem: string): Buffer {
  const body = certificatePem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
  return Buffer.from(body, 'base64');
}

export function publicKeyOfCertificate(certificatePem: string): KeyObject {
  return createPublicKey(certificatePem);
}
