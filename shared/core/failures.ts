/**
 * What went wrong, in the domain's own words. Nothing in shared/ speaks HTTP: the edge
 * (functions/runtime/problems.ts) says each of these as an RFC 9457 problem with its status,
 * and anything else as a 500 of ours.
 */

/** How a request is wrong: unreadable, too large, of a type we do not read, or read and refused. */
export type InvalidReason = 'invalid' | 'malformed' | 'too-large' | 'unsupported-type';

/** The caller sent something the app will not act on; sending it again will not help. */
export class InvalidRequest extends Error {
  override readonly name = 'InvalidRequest';
  constructor(
    message: string,
    readonly reason: InvalidReason = 'invalid',
  ) {
    super(message);
  }
}

/** What the caller named does not exist (an invitation, a batch). */
export class NotFound extends Error {
  override readonly name = 'NotFound';
}

/**
 * Why a well-formed request is refused by the state of things: the thing is not in a state that
 * allows it, the same request is still in progress, an idempotency key names another request, or
 * the guest could not be read to decide (a permission the app lacks).
 */
export type ConflictReason = 'state' | 'in-progress' | 'key-reused' | 'guest-unreadable';

export class Conflict extends Error {
  override readonly name = 'Conflict';
  constructor(
    message: string,
    readonly reason: ConflictReason = 'state',
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * A power the operator has not granted (a setting such as INVITE_ALLOW_LEAVERS is off): no key or
 * role makes up for it, and the message names the setting.
 */
export class NotAllowed extends Error {
  override readonly name = 'NotAllowed';
}

/** A signed request whose signature does not verify (wrong secret, altered body, too old). */
export class BadSignature extends Error {
  override readonly name = 'BadSignature';
}

/** What the app depends on and could not reach: storage, the queue, or Graph when reading a guest. */
export type Dependency = 'storage' | 'queue' | 'guest-read';

/**
 * Something the app depends on could not answer: ours to wait out or fix, never the caller's
 * fault, and the same request sent again is safe (the message says so).
 */
export class Unavailable extends Error {
  override readonly name = 'Unavailable';
  constructor(
    message: string,
    readonly dependency: Dependency,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
