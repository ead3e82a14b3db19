import { afterEach, describe, expect, it } from 'vitest';
import { recordIdForEmail, type InvitationStatus } from '../../shared/core/invitationRecord';
import { invitationFor } from '../support/harness';
import { waitFor } from '../support/graphEmulator';
import { startEventDelivery, startEventReceiver } from '../support/eventReceiver';
import { startHttpHost, startPipeline } from '../support/pipeline';
import type { AppDependencies } from '../../shared/appDependencies';
import { pipelineEventSchema } from '../../shared/lifecycle/invitationEvents';

/**
 * A refusal about the tenant pauses all sending and fails nobody; an operator can pause and resume
 * (shared/graph/sendingPause.ts), through the local host over real HTTP.
 */

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

const JSON_CONTENT = { 'content-type': 'application/json' };

async function pausedPipeline(emulator: Parameters<typeof startPipeline>[1], env: Record<string, string> = {}) {
  const pipeline = await startPipeline(cleanup, emulator, env);
  const host = await startHttpHost(pipeline.deps);
  cleanup.push(() => host.stop());
  const api = (path: string, init: RequestInit = {}) => fetch(`${host.url}/api/${path}`, init);
  return { ...pipeline, host, api };
}

async function statusCounts(deps: AppDependencies, emails: string[]): Promise<Partial<Record<InvitationStatus, number>>> {
  const counts: Partial<Record<InvitationStatus, number>> = {};
  for (const email of emails) {
    const status = (await deps.store.getById(recordIdForEmail(email)))?.record.status;
    if (status) counts[status] = (counts[status] ?? 0) + 1;
  }
  return counts;
}

describe('a tenant refusal pauses everything and fails nobody', () => {
  it('stops within a handful of refused calls when Entra blocks the tenant after 10 of 200, says so in health, and resumes with DELETE /api/pause: each person invited by exactly one 201', async () => {
    const receiver = await startEventReceiver();
    cleanup.push(receiver.stop);
    const { deps, tenant, api, logs } = await pausedPipeline(
      { faults: { blockTenantAfter: 10 } },
      { NOTIFY_URL: receiver.url, NOTIFY_HMAC_SECRET: 'pause-events-secret-0123456789abcdefgh' },
    );
    const delivery = startEventDelivery(deps, logs);
    cleanup.push(delivery.stop);
    const emails = Array.from({ length: 200 }, (_, i) => `person${i}@fabrikam.com`);
    const submitted = await api('invitations', {
      method: 'POST',
      headers: JSON_CONTENT,
      body: JSON.stringify({ invitations: emails.map((email) => invitationFor(email)) }),
    });
    expect(submitted.status).toBe(202);

    const health = await waitFor(
      async () => {
        const response = await api('health');
        return (
          response.status === 503 && ((await response.json()) as { sending: { state: string; reason: string; firstRequestId: string } })
        );
      },
      { what: 'health to say sending is paused' },
    );
    expect(health.sending).toMatchObject({ state: 'paused', kind: 'tenant', refusal: 'abuseBlock', code: 'Forbidden' });
    expect(health.sending.reason).toMatch(/suspicious activity.*Only Microsoft support can lift the block.*request-id [0-9a-f-]{36}/);
    // Wait until every person has been looked at while paused (handed back at least once): still nobody Failed.
    await waitFor(
      async () => {
        const stored = await Promise.all(emails.map((email) => deps.store.getById(recordIdForEmail(email))));
        return stored.every(
          (entry) =>
            entry &&
            (entry.record.status === 'Invited' || (entry.record.status === 'Queued' && entry.record.updatedAt > entry.record.queuedAt)),
        );
      },
      { what: 'everyone looked at while paused', timeoutMs: 30_000 },
    );
    const refused = tenant.emulator.calls.filter((call) => call.status === 403);
    expect(refused.length).toBeGreaterThanOrEqual(1);
    expect(refused.length).toBeLessThanOrEqual(5);
    // Waiting: Queued, or for a moment Processing while a message is looked at and handed back.
    const waiting = await statusCounts(deps, emails);
    expect(waiting).toMatchObject({ Invited: 10 });
    expect(waiting.Failed).toBeUndefined();
    expect((waiting.Queued ?? 0) + (waiting.Processing ?? 0)).toBe(190);

    // Support lifts the block; the operator resumes without waiting for the hourly probe.
    tenant.emulator.configure({ faults: { blockTenantAfter: null } });
    expect((await api('pause', { method: 'DELETE' })).status).toBe(200);
    await waitFor(async () => (await statusCounts(deps, emails)).Invited === 200, { what: 'all 200 Invited', timeoutMs: 60_000 });
    for (const email of emails) expect(tenant.emulator.callsFor(email).filter((call) => call.status === 201)).toHaveLength(1);
    expect((await api('health')).status).toBe(200);

    // The operator's receiver heard both.
    await waitFor(async () => receiver.received.length >= 2, { what: 'the paused and resumed events' });
    const news = receiver.received
      .map(({ body }) => pipelineEventSchema.safeParse(JSON.parse(body)))
      .flatMap((parsed) => (parsed.success ? [parsed.data] : []));
    expect(news.map((event) => [event.type, event.data.kind])).toEqual([
      ['com.entra-invite-pipeline.sending.paused', 'tenant'],
      ['com.entra-invite-pipeline.sending.resumed', 'tenant'],
    ]);
  }, 120_000);

  it('pauses for the tenant’s guest-invite setting too, and resumes by itself once a probe is accepted', async () => {
    const { deps, tenant, api } = await pausedPipeline({ faults: { invitesNotAllowed: true } }, { TENANT_PAUSE_PROBE_MINUTES: '0.03' });
    const emails = ['a@fabrikam.com', 'b@fabrikam.com', 'c@fabrikam.com'];
    await api('invitations', {
      method: 'POST',
      headers: JSON_CONTENT,
      body: JSON.stringify({ invitations: emails.map((email) => invitationFor(email)) }),
    });
    const paused = await waitFor(async () => {
      const response = await api('pause');
      const body = (await response.json()) as { paused: boolean; refusal?: string; reason?: string };
      return body.paused && body;
    });
    expect(paused).toMatchObject({ refusal: 'invitesNotAllowed', reason: expect.stringContaining('Guest invite settings') });
    expect((await statusCounts(deps, emails)).Failed).toBeUndefined();

    tenant.emulator.configure({ faults: { invitesNotAllowed: false } });
    await waitFor(async () => (await statusCounts(deps, emails)).Invited === 3, { what: 'the probe, then everyone', timeoutMs: 40_000 });
    expect((await (await api('pause')).json()) as object).toEqual({ paused: false });
  }, 60_000);
});

describe('an operator’s pause switch', () => {
  it('PUT /api/pause stops all sending at once while submissions are still accepted; GET says why and by whom; DELETE resumes', async () => {
    const { deps, tenant, api } = await pausedPipeline({});
    const put = await api('pause', { method: 'PUT', headers: JSON_CONTENT, body: JSON.stringify({ reason: 'Wrong roster uploaded' }) });
    expect(put.status).toBe(200);
    expect(await put.json()).toMatchObject({ paused: true, kind: 'operator', reason: 'Wrong roster uploaded', by: 'the admin key' });

    const emails = ['held1@fabrikam.com', 'held2@fabrikam.com'];
    const submitted = await api('invitations', {
      method: 'POST',
      headers: JSON_CONTENT,
      body: JSON.stringify({ invitations: emails.map((email) => invitationFor(email)) }),
    });
    expect(submitted.status).toBe(202);
    // Each person's message is looked at and handed back: Queued, and Graph never called.
    await waitFor(async () => {
      const stored = await Promise.all(emails.map((email) => deps.store.getById(recordIdForEmail(email))));
      return stored.every(
        (entry) => entry?.record.status === 'Queued' && entry.entity.attempts === 0 && entry.record.updatedAt !== entry.record.queuedAt,
      );
    });
    expect(tenant.emulator.calls).toEqual([]);
    const health = await api('health');
    expect(health.status).toBe(503);
    expect(await health.json()).toMatchObject({
      sending: { state: 'paused', kind: 'operator', reason: 'Wrong roster uploaded', waiting: expect.any(Number) },
    });
    expect(await (await api('pause')).json()).toMatchObject({ paused: true, since: expect.any(String), by: 'the admin key' });

    const refused = await api('pause', { method: 'PUT', headers: JSON_CONTENT, body: JSON.stringify({}) });
    expect(refused.status).toBe(400);
    expect(await refused.text()).toContain('reason');

    expect((await api('pause', { method: 'DELETE' })).status).toBe(200);
    await waitFor(async () => (await statusCounts(deps, emails)).Invited === 2, { what: 'both Invited', timeoutMs: 30_000 });
  }, 60_000);
});
