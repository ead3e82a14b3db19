import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Webhook authenticity: with INTAKE_HMAC_SECRET set, a submission carries
 * `X-Signature: sha256=<hex HMAC-SHA256 of the raw body>` (the GitHub webhook convention).
 */
export const SIGNATURE_HEADER = 'x-signature';

export function signBody(secret: string, body: Uint8Array | string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** Why the signature is unacceptable, or undefined when it matches. Compared in constant time. */
export function signatureProblem(secret: string, body: Uint8Array, header: string | null | undefined): string | undefined {
  if (!header) return `The ${SIGNATURE_HEADER} header is missing: sign the raw body as "sha256=<hex HMAC-SHA256>".`;
  const expected = Buffer.from(signBody(secret, body), 'utf8');
  const received = Buffer.from(header.trim().toLowerCase(), 'utf8');
  // timingSafeEqual needs equal lengths; comparing against itself keeps the time independent of the input.
  const matches = received.length === expected.length ? timingSafeEqual(received, expected) : !timingSafeEqual(expected, expected);
  return matches ? undefined : `The ${SIGNATURE_HEADER} header does not match the body's HMAC-SHA256.`;
}
