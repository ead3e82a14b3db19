import { GraphCallError, type GraphDirectoryClient } from '../graph';
import type { InvitationError } from '../core';

/**
 * A sponsor speaks for the guest inside the organisation, and Graph sets `invitedUserSponsors`
 * from whatever ids it is given: so each sponsor is read first (one `$batch`, User.Read.All) and
 * must be a member of this tenant. A guest, or an id that is no user, refuses that person alone,
 * with the reason; Graph is not called for them.
 */
export class SponsorCheck {
  constructor(private readonly directory: Pick<GraphDirectoryClient, 'readGuests'>) {}

  /**
   * Why these sponsors may not be set, or undefined when every one is a member. Throws the
   * GraphCallError of a read that failed for a while (throttled, unavailable): try again later.
   */
  async refusal(sponsorIds: readonly string[]): Promise<InvitationError | undefined> {
    let reads;
    try {
      reads = await this.directory.readGuests(sponsorIds);
    } catch (error) {
      if (isDenied(error)) return unreadable(error);
      throw error;
    }
    for (const [index, id] of sponsorIds.entries()) {
      const read = reads.get(id);
      if (read?.kind === 'failed') {
        if (isDenied(read.error)) return unreadable(read.error);
        throw read.error;
      }
      if (!read || read.kind === 'deleted') return refused(`invitedUserSponsors[${index}] (${id}) is no user of this tenant`);
      if (read.guest.userType !== 'Member')
        return refused(
          `invitedUserSponsors[${index}] (${id}) is a ${read.guest.userType ?? 'user of unknown type'}: a sponsor must be a member of this tenant`,
        );
    }
    return undefined;
  }
}

/** The app may not read users: the same answer every time, so the person is refused rather than retried. */
function isDenied(error: unknown): error is GraphCallError {
  return error instanceof GraphCallError && (error.httpStatus === 403 || error.kind === 'credential');
}

function unreadable(error: GraphCallError): InvitationError {
  return refused(`the sponsors could not be checked (${error.code}): the app needs User.Read.All to read them`);
}

function refused(message: string): InvitationError {
  return { code: 'SponsorNotMember', message };
}
