import type { AccessToken } from '@azure/identity';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { GraphInvitationRequest } from '../../shared/core';
import { CredentialCircuit } from '../../shared/graph/credentialCircuit';
import { GraphCallError, graphCallErrorFrom } from '../../shared/graph/graphCallError';
import type { Guest } from '../../shared/graph/graphDirectoryClient';
import type { InvitationCreated } from '../../shared/graph/graphInvitationsClient';
import { GraphPacer } from '../../shared/graph/graphPacer';
import { GuestLookup } from '../../shared/graph/guestLookup';
import { InvitationSender, type InvitationsCaller } from '../../shared/graph/invitationSender';

/**
 * The sender's decisions (shared/graph/invitationSender.ts) with Graph scripted: what is retried,
 * what is given up at once, when a person is looked up instead of invited again. The pacer, the
 * circuit and the lookup are the real ones; only Graph's answers are scripted.
 */
describe('the invitation sender', () => {
  const circuits: CredentialCircuit[] = [];
  // The backoff between retries is real time in production (up to seconds); here the clock is
  // advanced instead, so the sender's own timing decides and the test takes milliseconds.
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    for (const circuit of circuits.splice(0)) circuit.dispose();
    vi.useRealTimers();
  });
  async function settled<T>(promise: Promise<T>): Promise<T> {
    let done = false;
    void promise.finally(() => (done = true)).catch(() => undefined);
    while (!done) await vi.advanceTimersByTimeAsync(50);
    return promise;
  }

  const request: GraphInvitationRequest = {
    invitedUserEmailAddress: 'ada@fabrikam.com',
    inviteRedirectUrl: 'https://myapps.microsoft.com',
    invitedUserType: 'Guest',
    sendInvitationMessage: false,
    resetRedemption: false,
  };
  const token: AccessToken = { token: 'header.payload.signature', expiresOnTimestamp: Date.now() + 3_600_000 };
  const created: InvitationCreated = { invitationId: 'inv-1', invitedUserId: 'user-1', inviteRedeemUrl: 'https://redeem' };
  const graphSays = (status: number, code: string, headers: Record<string, string> = {}) =>
    graphCallErrorFrom(status, (name) => headers[name], { error: { code, message: `${code}.` } });

  /** A sender whose Graph answers `script` in turn (an error is thrown, a success returned), with the real pacer and circuit. */
  function senderAnswering(script: Array<GraphCallError | InvitationCreated>, found?: Guest) {
    const graph = { calls: 0, refreshes: 0, lookups: 0 };
    const client: InvitationsCaller = {
      token: async () => token,
      createInvitation: async () => {
        const answer = script[graph.calls++];
        if (!answer) throw new Error('Graph was called more often than scripted');
        if (answer instanceof GraphCallError) throw answer;
        return answer;
      },
      refreshCredential: () => {
        graph.refreshes += 1;
      },
    };
    const circuit = new CredentialCircuit({ probe: async () => token, probeIntervalMs: 60_000 });
    circuits.push(circuit);
    const lookup = new GuestLookup({
      findByEmail: async () => {
        graph.lookups += 1;
        return found;
      },
    });
    const sender = new InvitationSender(client, new GraphPacer({ maxWritesPerSecond: 1_000, initialRate: 1_000 }), circuit, lookup);
    return { sender, graph, send: () => settled(sender.send(request, Date.now() + 20_000)) };
  }

  it('retries a 503 and answers the 201', async () => {
    const { graph, send } = senderAnswering([graphSays(503, 'ServiceUnavailable'), created]);
    expect(await send()).toMatchObject({ kind: 'invited', created, calls: 2 });
    expect(graph.lookups).toBe(0); // a 503 is a refusal: Graph did not act
  });

  it('gives a refusal about the person up at once: one call', async () => {
    const { graph, send } = senderAnswering([graphSays(400, 'BadRequest')]);
    expect(await send()).toMatchObject({ kind: 'refused', calls: 1, error: { code: 'BadRequest' } });
    expect(graph.calls).toBe(1);
  });

  it('looks the person up after a 504 (Graph may have acted) and never invites a second time when the guest is there', async () => {
    const guest: Guest = { id: 'user-9', userType: 'Guest' };
    const { graph, send } = senderAnswering([graphSays(504, 'GatewayTimeout')], guest);
    expect(await send()).toMatchObject({ kind: 'invited', created: { invitedUserId: 'user-9', foundByLookup: true }, calls: 1 });
    expect(graph).toMatchObject({ calls: 1, lookups: 1 });
  });

  it('waits out 429s without using up its retries', async () => {
    const throttled = Array.from({ length: 7 }, () => graphSays(429, 'TooManyRequests', { 'retry-after': '0.01' }));
    const { send } = senderAnswering([...throttled, created]);
    expect(await send()).toMatchObject({ kind: 'invited', calls: 8 });
  });

  it('gives up after its retries of transient failures, for the queue to deliver again', async () => {
    const { graph, send } = senderAnswering(Array.from({ length: 6 }, () => graphSays(503, 'ServiceUnavailable')));
    expect(await send()).toMatchObject({ kind: 'unavailable', calls: 6, error: { code: 'ServiceUnavailable' } });
    expect(graph.calls).toBe(6);
  });

  it('takes a fresh token after a 401, and a second 401 as the app’s permission: suspended, nobody refused', async () => {
    const { graph, send } = senderAnswering([graphSays(401, 'InvalidAuthenticationToken'), graphSays(401, 'InvalidAuthenticationToken')]);
    const outcome = await send();
    expect(outcome).toMatchObject({ kind: 'suspended', calls: 2, error: { kind: 'credential' } });
    expect(graph.refreshes).toBe(1);
  });
});
