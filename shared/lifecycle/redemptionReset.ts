import { type GraphDirectoryClient, type GraphCallError } from '../graph';
import { Conflict, Unavailable } from '../core';
import { type InvitationQueue, type InvitationStore, NO_CLAIM, type RecordEntity } from '../storage';
import { readOwnGuest } from './guestOwnership';

/**
 * An operator's reset of a guest's redemption (POST /api/invitations/{id}/reset-redemption, admin
 * key): Graph's `resetRedemption` lets the same user object (its id, groups and app access) be
 * redeemed again, by whoever redeems the new invitation. So it is never a caller's, and the app
 * resets only the guest its own invitation created: read now, and held to guestOwnership.ts. The
 * person is queued, and the worker sends `resetRedemption: true` with `invitedUser.id` = that guest.
 */

export interface ResetQueued {
  id: string;
  status: 'Queued';
  /** The guest whose redemption is reset. */
  guestId: string;
}

const RESETTABLE = new Set(['Invited', 'Accepted', 'Expired']);

export class RedemptionReset {
  constructor(
    private readonly store: InvitationStore,
    private readonly queue: InvitationQueue,
    private readonly directory: Pick<GraphDirectoryClient, 'readGuests'>,
  ) {}

  async reset(id: string): Promise<ResetQueued> {
    for (;;) {
      const stored = await this.store.getNamed(id);
      const { record } = stored;
      if (!RESETTABLE.has(record.status))
        throw new Conflict(
          `Invitation ${record.id} is ${record.status}: only a person this app invited (Invited, Accepted, Expired) is reset.`,
        );
      const userId = record.ownedUserId ?? record.invitedUserId;
      if (!userId) throw new Conflict(`Invitation ${record.id} does not know its guest's id (Graph's answer was lost): nothing is reset.`);
      const read = await readOwnGuest(this.directory, userId, record);
      if (read.kind === 'gone') throw new Conflict(`The guest of invitation ${record.id} no longer exists: nothing is reset.`);
      if (read.kind === 'failed') throw guestUnreadable(read.error);
      if (read.kind === 'not-own')
        throw new Conflict(
          `The user of invitation ${record.id} was not created by this app's invitation (a member, or a guest who was there before): the app resets only guests it created.`,
        );
      const now = new Date().toISOString();
      const next: RecordEntity = {
        ...stored.entity,
        ...NO_CLAIM,
        status: 'Queued',
        ownedUserId: read.guest.id,
        resetRedemptionDue: true,
        reminderDue: undefined,
        queuedAt: now,
        updatedAt: now,
      };
      if (!(await this.store.replace(next, stored.etag))) continue; // changed meanwhile: decide again
      // Lost between the two writes, the message is restored by the stranded sweep (the record is Queued).
      await this.queue.send({ id: record.id, batchId: record.batchId, queuedAt: now });
      return { id: record.id, status: 'Queued', guestId: read.guest.id };
    }
  }
}

/**
 * Graph could not say whose guest it is, so nothing is reset: without User.Read.All that lasts
 * until an admin grants it (a conflict with the app's grants), otherwise try again later.
 */
function guestUnreadable(cause: GraphCallError): Error {
  const lacksPermission = cause.httpStatus === 403 || cause.kind === 'credential';
  const message = `The app must read the guest to know it created it, and Graph refused (${cause.code}): ${
    lacksPermission ? 'grant User.Read.All (Application)' : 'try again later'
  }. Nothing was reset.`;
  return lacksPermission ? new Conflict(message, 'guest-unreadable', { cause }) : new Unavailable(message, 'guest-read', { cause });
}
