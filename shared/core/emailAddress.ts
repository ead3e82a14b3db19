import { domainToASCII } from 'node:url';
import { z } from 'zod';
import { isWellFormedText } from './tableLimits';

/**
 * The characters Graph forbids in `invitedUserEmailAddress`, exactly as the User.Invite.All
 * permission reference lists them (https://learn.microsoft.com/graph/permissions-reference#userinviteall): a request with any of them costs a
 * Graph call only to come back 400, so the intake rejects it first.
 */
export const FORBIDDEN_EMAIL_CHARACTERS = [
  '~',
  '!',
  '#',
  '$',
  '%',
  '^',
  '&',
  '*',
  '(',
  ')',
  '+',
  '=',
  '[',
  ']',
  '{',
  '}',
  '\\',
  '/',
  '|',
  ';',
  ':',
  '"',
  '<',
  '>',
  '?',
  ',',
] as const;

/** Same reference: `.` and `-` anywhere in the user name except first or last; `_` anywhere. */
const NOT_FIRST_OR_LAST = ['.', '-'] as const;

const MAX_LOCAL_PART = 64; // RFC 5321 §4.5.3.1.1
const MAX_ADDRESS = 254; // RFC 5321 path limit less the angle brackets
const DOMAIN_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
const TOP_LEVEL_LABEL = /^(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$/;

/** Why an address is unacceptable, or undefined when it is fine. */
export function emailAddressProblem(address: string): string | undefined {
  const at = address.lastIndexOf('@');
  if (at < 0) return 'must be an email address such as partner@fabrikam.com (no "@" found)';
  const localPart = address.slice(0, at);
  const domain = address.slice(at + 1);
  if (localPart.length === 0) return 'must have a user name before "@"';
  if (/[\s\p{Cc}]/u.test(address)) return 'must not contain spaces or control characters';
  // A soft hyphen, a zero-width space or a direction mark: invisible, so `ann\u00ADlee@…` would look
  // like ann.lee's address and yet be another person.
  if (/\p{Cf}/u.test(address)) return 'must not contain invisible characters (such as a soft hyphen or a zero-width space)';
  if (!isWellFormedText(address)) return 'must be well-formed Unicode text (it holds a lone surrogate)';
  if (localPart.includes('@')) return 'must contain exactly one "@"';
  const forbidden = FORBIDDEN_EMAIL_CHARACTERS.find((character) => localPart.includes(character));
  if (forbidden) return `must not contain '${forbidden}' in the user name (Graph forbids ${FORBIDDEN_EMAIL_CHARACTERS.join(' ')})`;
  for (const character of NOT_FIRST_OR_LAST) {
    if (localPart.startsWith(character)) return `must not start the user name with '${character}'`;
    if (localPart.endsWith(character)) return `must not end the user name with '${character}'`;
  }
  if (localPart.length > MAX_LOCAL_PART) return `must have a user name of at most ${MAX_LOCAL_PART} characters`;
  if (address.length > MAX_ADDRESS) return `must be at most ${MAX_ADDRESS} characters long`;
  return domainProblem(domain);
}

function domainProblem(domain: string): string | undefined {
  // domainToASCII accepts internationalized domains (münchen.de → xn--mnchen-3ya.de) and returns '' for invalid ones.
  const ascii = domainToASCII(domain);
  const labels = ascii.split('.');
  const valid =
    ascii.length > 0 &&
    ascii.length <= 253 &&
    labels.length >= 2 &&
    labels.every((label) => DOMAIN_LABEL.test(label)) &&
    TOP_LEVEL_LABEL.test(labels[labels.length - 1] ?? '');
  return valid ? undefined : `must have a valid domain after "@" (got "${domain}")`;
}

/**
 * The person's identity: the address in Unicode's compatibility form (NFKC: full-width `ａｎｎ` is
 * `ann`), trimmed and lower-cased, with its domain in IDNA's ASCII form (`münchen.de` is
 * `xn--mnchen-3ya.de`): two spellings of one mailbox are one person, invited once.
 */
export function normalizeEmailAddress(address: string): string {
  const lowered = (isWellFormedText(address) ? address.normalize('NFKC') : address).trim().toLowerCase();
  const at = lowered.lastIndexOf('@');
  if (at < 0) return lowered;
  const ascii = domainToASCII(lowered.slice(at + 1));
  return ascii ? `${lowered.slice(0, at + 1)}${ascii}` : lowered;
}

export function emailDomain(normalizedAddress: string): string {
  return domainToASCII(normalizedAddress.slice(normalizedAddress.lastIndexOf('@') + 1));
}

/** An address Graph will accept, normalized to the person's identity. */
export const emailAddressSchema = z
  .string()
  .transform(normalizeEmailAddress)
  .superRefine((address, context) => {
    const problem = emailAddressProblem(address);
    if (problem) context.addIssue({ code: 'custom', message: problem });
  });

/** For logs: `j***@contoso.com`. */
export function maskEmailAddress(address: string): string {
  const at = address.lastIndexOf('@');
  if (at <= 0) return '***';
  return `${address[0]}***${address.slice(at)}`;
}
