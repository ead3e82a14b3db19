import { expect } from 'vitest';

/** Asserts that logged text carries no secret, access token, redemption ticket or whole email address. */
export function expectNoSecretsIn(text: string, { secrets = [], emails = [] }: { secrets?: string[]; emails?: string[] }): void {
  expect(text.length).toBeGreaterThan(0);
  for (const secret of secrets) expect(text).not.toContain(secret);
  expect(text).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/); // a JWT
  expect(text.toLowerCase()).not.toContain('ticket');
  expect(text).not.toContain('/redeem?');
  for (const email of emails) expect(text).not.toContain(email);
}
