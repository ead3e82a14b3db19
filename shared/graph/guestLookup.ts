import { GraphCallError } from './graphCallError';
import type { Guest, GraphDirectoryClient } from './graphDirectoryClient';

/**
 * "Did our last call reach Graph?" answered by looking the person up (needs User.Read.All). An app
 * without that permission is told once (Graph's 403) and invites as before: then a crash mid-call
 * can still cost a second invitation, at most one per call in flight.
 */

export class GuestLookupError extends Error {
  override readonly name = 'GuestLookupError';
  constructor(readonly failure: GraphCallError) {
    super(`The lookup of the person failed: ${failure.code}.`);
  }
}

export class GuestLookup {
  private denied = false;

  constructor(
    private readonly directory: Pick<GraphDirectoryClient, 'findByEmail'>,
    /** Told once, when Graph refuses the app the read (User.Read.All not granted). */
    private readonly onDenied: (error: GraphCallError) => void = () => undefined,
  ) {}

  /** The user who has this email, undefined when there is none or the app may not look; GuestLookupError when Graph failed. */
  async find(email: string): Promise<Guest | undefined> {
    if (this.denied) return undefined;
    try {
      return await this.directory.findByEmail(email);
    } catch (error) {
      if (!(error instanceof GraphCallError)) throw error;
      if (error.kind === 'credential' || error.httpStatus === 403) {
        this.denied = true;
        this.onDenied(error);
        return undefined;
      }
      throw new GuestLookupError(error);
    }
  }
}
