/**
 * Where the domain writes what it did: the Functions host's InvocationContext, the local host's
 * console and the tests' captured logs all have these three. Emails in a line are masked
 * (emailAddress.ts: maskEmailAddress); tokens, secrets and redemption links never go in one.
 */
export interface Log {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}
