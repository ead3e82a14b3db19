import { afterEach, describe, expect, inject, it } from 'vitest';
import { createAppDependencies } from '../../shared/appDependencies';
import { recordIdForEmail } from '../../shared/core/invitationRecord';
import { invitationEventSchema } from '../../shared/lifecycle/invitationEvents';
import { loadSettings } from '../../shared/settings';
import { invitationFor, submit, uniqueResourceNames } from '../support/harness';
import { startEmulatedTenant, waitFor } from '../support/graphEmulator';
import { CapturedLogs, startWorker, waitForStatus } from '../support/pipeline';
import { startEventDelivery, startEventReceiver } from '../support/eventReceiver';
import { StorageFaultProxy } from '../support/storageFaultProxy';

/**
 * The callers' events through a transactional outbox (shared/lifecycle/eventOutbox.ts): each
 * status change is written with its event in one entity-group transaction, so a change whose
 * event could not be queued still has it, and the timer's relay delivers it once the queue takes
 * messages again, with the id the change gave it.
 */

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

describe('the events’ outbox', () => {
  it('keeps every event while storage refuses the events queue, and delivers each person’s Invited afterwards, one id per change', async () => {
    const tenant = await startEmulatedTenant({});
    cleanup.push(() => tenant.emulator.stop());
    const receiver = await startEventReceiver();
    cleanup.push(receiver.stop);
    const azurite = inject('azuriteConnectionString');
    const proxy = await StorageFaultProxy.start(/QueueEndpoint=([^;]+)/.exec(azurite)![1]!, 'QueueEndpoint');
    cleanup.push(() => proxy.stop());
    const names = uniqueResourceNames('outbox');
    const deps = await createAppDependencies(
      loadSettings({
        AzureWebJobsStorage: proxy.connectionString(azurite),
        ...tenant.settings,
        NOTIFY_URL: receiver.url,
        NOTIFY_HMAC_SECRET: 'outbox-events-secret-0123456789abcdefgh',
      }),
      names,
    );
    const logs = new CapturedLogs();
    const worker = startWorker(deps, logs);
    cleanup.push(() => worker.stop());
    const delivery = startEventDelivery(deps, logs);
    cleanup.push(delivery.stop);

    // Storage refuses the events queue (a firewall rule, a revoked role) while the people are invited.
    proxy.configure({ refusePathsContaining: `${names.queueName}-events` });
    const emails = Array.from({ length: 10 }, (_, i) => `outboxed${i}@fabrikam.com`);
    await submit(deps, { invitations: emails.map((email) => invitationFor(email)) });
    for (const email of emails) await waitForStatus(deps, recordIdForEmail(email), 'Invited');
    const waiting = async () => {
      let rows = 0;
      for (const partition of deps.store.layout.allRecordRows())
        for await (const _row of partition.list(`RowKey ge 'o|' and RowKey lt 'o}'`)) rows += 1;
      return rows;
    };
    expect(await waiting()).toBe(emails.length);
    expect(receiver.received).toEqual([]);

    // Storage takes messages again: the timer's relay queues what waited.
    proxy.configure({});
    expect(await deps.eventOutbox.relayStranded(0)).toBe(emails.length);
    expect(await waiting()).toBe(0);
    const events = await waitFor(
      async () => {
        const heard = receiver.received.map((event) => invitationEventSchema.parse(JSON.parse(event.body)));
        return heard.length >= emails.length ? heard : undefined;
      },
      { what: 'every event delivered' },
    );
    expect(events.map((event) => event.data.status)).toEqual(emails.map(() => 'Invited'));
    expect(new Set(events.map((event) => event.data.email))).toEqual(new Set(emails));
    expect(new Set(events.map((event) => event.id)).size).toBe(emails.length);
    // Nothing left to relay: a second run queues nothing again.
    expect(await deps.eventOutbox.relayStranded(0)).toBe(0);
  });
});
