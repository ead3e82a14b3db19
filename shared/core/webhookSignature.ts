import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Webhook authenticity, as Stripe signs its webhooks: with INTAKE_HMAC_SECRET set, a submission
 * carries `X-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`. The timestamp
 * is signed too, so a captured request is refused once it is older than the tolerance; within it,
 * the same (t, v1) is recognised as a replay (see idempotencyStore.ts). Two secrets may be
 * configured while one is rotated, and a header may carry several v1 values.
 */
export const SIGNATURE_HEADER = 'x-signature';

export interface SignatureCheck {
  /** Secrets that may have signed (the current one and, during a rotation, the next). */
  secrets: readonly string[];
  toleranceSeconds: number;
  /** @default Date.now() */
  nowMs?: number;
}

export interface VerifiedSignature {
  timestamp: number;
  /** The v1 value that matched: with the timestamp, it names this signed request. */
  signature: string;
}

/** The header value: one v1 per secret (two while a secret is rotated, so the receiver may hold either). */
export function signBody(
  secrets: string | readonly string[],
  body: Uint8Array | string,
  timestamp = Math.floor(Date.now() / 1000),
): string {
  const all = typeof secrets === 'string' ? [secrets] : secrets;
  return [`t=${timestamp}`, ...all.map((secret) => `v1=${hmacHex(secret, timestamp, body)}`)].join(',');
}

/** The verified signature, or a sentence saying why it is unacceptable. Compared in constant time. */
export function verifySignature(
  body: Uint8Array,
  header: string | null | undefined,
  check: SignatureCheck,
): VerifiedSignature | { problem: string } {
  const expectedForm = `sign "<t>.<raw body>" as "t=<unix seconds>,v1=<hex HMAC-SHA256>"`;
  if (!header) return { problem: `The ${SIGNATURE_HEADER} header is missing: ${expectedForm}.` };
  const parts = header.split(',').map((part) => part.trim().split('='));
  const timestamp = Number(parts.find(([key]) => key === 't')?.[1]);
  const candidates = parts.filter(([key, value]) => key === 'v1' && value).map(([, value]) => value!.toLowerCase());
  if (!Number.isInteger(timestamp) || candidates.length === 0)
    return { problem: `The ${SIGNATURE_HEADER} header is malformed: ${expectedForm}.` };
  const ageSeconds = Math.abs((check.nowMs ?? Date.now()) / 1000 - timestamp);
  if (ageSeconds > check.toleranceSeconds) {
    return {
      problem: `The ${SIGNATURE_HEADER} timestamp is ${Math.round(ageSeconds)} s away from now; at most ${check.toleranceSeconds} s are accepted (a replayed or delayed request).`,
    };
  }
  for (const secret of check.secrets) {
    const expected = Buffer.from(hmacHex(secret, timestamp, body), 'utf8');
    const match = candidates.find((candidate) => {
      const received = Buffer.from(candidate, 'utf8');
      // timingSafeEqual needs equal lengths; comparing against itself keeps the time independent of the input.
      return received.length === expected.length ? timingSafeEqual(received, expected) : !timingSafeEqual(expected, expected);
    });
    if (match) return { timestamp, signature: match };
  }
  return { problem: `The ${SIGNATURE_HEADER} header does not match the body's HMAC-SHA256 with any configured secret.` };
}

function hmacHex(secret: string, timestamp: number, body: Uint8Array | string): string {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex');
}
