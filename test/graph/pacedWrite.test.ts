import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  GROUP_MEMBER_READ_WRITE_ALL,
  USER_DELETE_RESTORE_ALL,
  USER_ENABLE_DISABLE_ACCOUNT_ALL,
  USER_READ_ALL,
} from '../../local/graphEmulator/directory';
import { graphCaller, graphEndpoints } from '../../shared/graph/graphCaller';
import { GraphCallError } from '../../shared/graph/graphCallError';
import { GraphDirectoryClient } from '../../shared/graph/graphDirectoryClient';
import { GraphInvitationsClient } from '../../shared/graph/graphInvitationsClient';
import { GraphPacer } from '../../shared/graph/graphPacer';
import { pacedWrite } from '../../shared/graph/pacedWrite';
import { loadSettings } from '../../shared/settings';
import { startEmulatedTenant, type EmulatedTenant } from '../support/graphEmulator';

/**
 * Group adds, PATCH and DELETE are identity writes of the same budget as invitations
 * (shared/graph/pacedWrite.ts): the pacer hears what Graph says of each, as it does of an invitation.
 */
describe('identity writes beside the invitations', () => {
  let tenant: EmulatedTenant | undefined;
  afterEach(async () => {
    await tenant?.emulator.stop();
    tenant = undefined;
  });

  it('tell the pacer Graph’s x-ms-throttle-limit-percentage above 80% of the budget, and a 429 with its Retry-After', async () => {
    tenant = await startEmulatedTenant({
      roles: [GROUP_MEMBER_READ_WRITE_ALL, USER_READ_ALL, USER_ENABLE_DISABLE_ACCOUNT_ALL, USER_DELETE_RESTORE_ALL],
      writeBudget: { limit: 10, windowMs: 60_000 },
    });
    const settings = loadSettings({ AzureWebJobsStorage: 'UseDevelopmentStorage=true', ...tenant.settings });
    const invitations = new GraphInvitationsClient(graphEndpoints(settings), graphCaller(settings));
    const directory = new GraphDirectoryClient(graphEndpoints(settings), (timeoutMs) => invitations.token(timeoutMs));
    const group = randomUUID();
    tenant.emulator.directory.groups.set(group, new Set());
    const users = Array.from({ length: 11 }, (_, i) => tenant!.emulator.directory.add({ mail: `w${i}@fabrikam.com`, userType: 'Guest' }));
    const pacer = new GraphPacer({ maxWritesPerSecond: 100, initialRate: 100 });
    const told = vi.spyOn(pacer, 'accepted');
    const deadline = Date.now() + 30_000;

    // Ten writes of the budget's ten: eight group adds, a disable (PATCH), a delete.
    const writes = [
      ...users.slice(0, 8).map((user) => () => directory.addGroupMember(group, user.id)),
      () => directory.disable(users[8]!.id),
      () => directory.delete(users[9]!.id),
    ];
    const answers = [];
    for (const write of writes) answers.push(await pacedWrite(pacer, deadline, write));
    const percentages = [...Array<undefined>(8).fill(undefined), 0.9, 1];
    expect(answers.map((answer) => answer.throttleLimitPercentage)).toEqual(percentages);
    expect(told.mock.calls.map(([percentage]) => percentage)).toEqual(percentages);

    const rateBefore = pacer.rate;
    const refused = await pacedWrite(pacer, deadline, () => directory.addGroupMember(group, users[10]!.id)).catch(
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(GraphCallError);
    expect((refused as GraphCallError).kind).toBe('throttled');
    // The budget is spent for most of a minute: every caller of the pacer waits, not just this write.
    expect((refused as GraphCallError).retryAfterMs).toBeGreaterThan(50_000);
    expect(pacer.rate).toBeLessThan(rateBefore);
    expect(pacer.pausedForMs).toBeGreaterThan(50_000);
  });
});
