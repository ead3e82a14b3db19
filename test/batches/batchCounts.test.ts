import type { TableClient } from '@azure/data-tables';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import type { AppDependencies } from '../../shared/appDependencies';
import { BatchLedger, noCounts, type BatchCounts } from '../../shared/batches/batchLedger';
import { InvitationStore } from '../../shared/storage/invitationStore';
import { readRecord } from '../../shared/storage/recordEntity';
import { TableLayout } from '../../shared/storage/tableLayout';
import type { RecordEntity } from '../../shared/storage/recordEntity';
import { clearQueue, createTestDependencies, invitationFor, submit, writeRecord } from '../support/harness';
import { dependenciesBehindFaultProxy } from '../support/storageFaultProxy';

/**
 * A batch's counts against the truth: the statuses of the records the batch queued. A state change
 * is a record write followed by the ledger's sync (read the row, read the record, read a shard,
 * commit row and shard together). A crash is injected at every one of those storage calls, before
 * the call reaches storage and after storage acted (the answer lost), and the test checks:
 * - at the moment of the crash, the counts are the tally of the rows (never negative, nobody twice);
 * - after the recovery the product has (the sweep's reconciliation), the counts are the truth.
 */

let deps: AppDependencies;

beforeAll(async () => {
  deps = await createTestDependencies();
});

class Crash extends Error {}

/** The table as a process that dies at its `crashAt`-th write or read (`when`: before the call, or after storage acted). */
function crashingTable(table: TableClient, crashAt: number, when: 'before' | 'after'): TableClient {
  let calls = 0;
  const counted = new Set(['getEntity', 'submitTransaction', 'updateEntity', 'createEntity', 'upsertEntity', 'deleteEntity']);
  return new Proxy(table, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== 'function') return value;
      if (!counted.has(String(property))) return value.bind(target);
      return async (...args: unknown[]) => {
        calls += 1;
        if (calls === crashAt && when === 'before') throw new Crash(`crash before call ${crashAt}`);
        const call = calls;
        const settled = await Promise.resolve(value.apply(target, args)).then(
          (result: unknown) => ({ result }),
          (error: unknown) => ({ error }),
        );
        // After storage acted, whatever it answered (a 404 is an answer too), the process is gone.
        if (call === crashAt && when === 'after') throw new Crash(`crash after call ${crashAt}`);
        if ('error' in settled) throw settled.error;
        return settled.result;
      };
    },
  });
}

/** The table, counting the transactions committed and those refused (another writer won). */
function countingTable(table: TableClient) {
  const transactions = { committed: 0, refused: 0 };
  const counting = new Proxy(table, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== 'function') return value;
      if (property !== 'submitTransaction') return value.bind(target);
      return async (...args: unknown[]) => {
        try {
          const result: unknown = await value.apply(target, args);
          transactions.committed += 1;
          return result;
        } catch (error) {
          transactions.refused += 1;
          throw error;
        }
      };
    },
  });
  return { table: counting, transactions };
}

/** A process of the app on that table: its store and ledger, with no swallowing of the crash. */
function crashingProcess(crashAt: number, when: 'before' | 'after') {
  return processOn(crashingTable(deps.store.layout.client, crashAt, when));
}

/** A process of the app on `table`: its own store and ledger. */
function processOn(table: TableClient) {
  const layout = new TableLayout(table);
  const ledger = new BatchLedger(layout, async (id) => {
    const stored = await readRecord(layout, id);
    return stored && { record: stored.record, batchPosition: stored.entity.batchPosition };
  });
  return new InvitationStore(layout, {
    queuedStaleAfterMs: 600_000,
    changes: { follow: ({ batchId, recordId, batchPosition }) => ledger.sync(batchId, recordId, batchPosition!) },
  });
}

async function truthOf(batchId: string, ids: readonly string[]): Promise<BatchCounts> {
  const counts = noCounts();
  for (const id of ids) {
    const record = (await deps.store.getById(id))?.record;
    if (record?.batchId === batchId) counts[record.status] += 1;
  }
  return counts;
}

async function tallyOfRows(batchId: string): Promise<BatchCounts> {
  const counts = noCounts();
  for (const person of await deps.batches.ledger.all(batchId)) counts[person.duplicate ? 'Duplicate' : person.record.status] += 1;
  return counts;
}

type Change = (store: InvitationStore, id: string) => Promise<unknown>;

/** One state change of one fresh person, in a process that crashes at every step in turn; each step checked. */
async function crashAtEveryStep(name: string, prepare: (id: string) => Promise<void>, change: Change): Promise<number> {
  let steps = 0;
  for (const when of ['before', 'after'] as const) {
    for (let crashAt = 1; ; crashAt += 1) {
      const batchId = `${name}-${when}-${crashAt}`;
      const response = await submit(deps, { batchId, invitations: [invitationFor(`${batchId}@fabrikam.com`)] });
      const id: string = response.json.items[0].id;
      await clearQueue(deps);
      await prepare(id);
      const crashed = await change(crashingProcess(crashAt, when), id).then(
        () => false,
        (error: unknown) => {
          if (!(error instanceof Crash)) throw error;
          return true;
        },
      );
      const counts = await deps.batches.ledger.counts(batchId);
      expect(counts, `${batchId}: the counts are the rows' tally at the crash`).toEqual(await tallyOfRows(batchId));
      expect(Object.values(counts).every((count) => count >= 0)).toBe(true);
      expect(Object.values(counts).reduce((sum, count) => sum + count, 0)).toBeLessThanOrEqual(1);
      await deps.strandedSweeper.sweep();
      expect(await deps.batches.ledger.counts(batchId), `${batchId}: the counts after the sweep`).toEqual(await truthOf(batchId, [id]));
      if (!crashed) break;
      steps += 1;
    }
  }
  return steps;
}

const entityOf = async (store: InvitationStore, id: string): Promise<RecordEntity> => (await store.getById(id))!.entity;

describe('batch counts through crashes at every step of a state change', () => {
  it('a claim (Queued → Processing)', async () => {
    const steps = await crashAtEveryStep(
      'claim',
      async () => {},
      async (store, id) => store.replace({ ...(await entityOf(store, id)), status: 'Processing' }),
    );
    // read the record, write it; read the row, the record and a shard; commit: six calls, each crashed before and after.
    expect(steps).toBe(12);
  });

  it('an outcome (Processing → Invited)', async () => {
    const steps = await crashAtEveryStep(
      'outcome',
      (id) => writeRecord(deps, id, { status: 'Processing' }),
      async (store, id) => store.replace({ ...(await entityOf(store, id)), status: 'Invited', invitedUserId: 'guest' }),
    );
    expect(steps).toBe(12);
  });

  it('a withdrawal (the intake could not queue a new person)', async () => {
    const steps = await crashAtEveryStep(
      'withdraw',
      async () => {},
      async (store, id) => {
        const { record, entity } = (await store.getById(id))!;
        await store.withdraw({ record, admission: 'created', batchPosition: entity.batchPosition! });
      },
    );
    // read the record, delete it; read the page row, the record (gone), the batch row; commit.
    expect(steps).toBe(12);
  });
});

describe('batch counts', () => {
  it('stay the truth when two processes change 200 people of one batch at once, grouped into few transactions', async () => {
    const batchId = 'crowd';
    const response = await submit(deps, {
      batchId,
      invitations: Array.from({ length: 200 }, (_, i) => invitationFor(`crowd${i}@fabrikam.com`)),
    });
    const ids: string[] = response.json.items.map((item: { id: string }) => item.id);
    await clearQueue(deps);
    const processes = [countingTable(deps.store.layout.client), countingTable(deps.store.layout.client)].map((counted) => ({
      ...counted,
      store: processOn(counted.table),
    }));
    // Each person claimed and then invited by one of two processes, all 200 in flight at once, as
    // two hosts' invocations are: every one of those 400 changes moves the batch row's counts.
    await Promise.all(
      ids.map(async (id, i) => {
        const { store } = processes[i % 2]!;
        await store.replace({ ...(await entityOf(store, id)), status: 'Processing' });
        await store.replace({ ...(await entityOf(store, id)), status: 'Invited', invitedUserId: `guest-${i}` });
      }),
    );
    expect(await deps.batches.ledger.counts(batchId)).toEqual({ ...noCounts(), Invited: 200 });
    expect(await tallyOfRows(batchId)).toEqual(await truthOf(batchId, ids));
    // Committed one by one, the 400 changes take 400 transactions, and racing writers lose the
    // batch row's ETag several times for each (a two-process benchmark measured six refusals per
    // commit). Grouped, a process commits what waited while its last transaction was in flight.
    const committed = processes.reduce((sum, { transactions }) => sum + transactions.committed, 0);
    const refused = processes.reduce((sum, { transactions }) => sum + transactions.refused, 0);
    expect(committed).toBeLessThan(100);
    expect(refused).toBeLessThan(committed);
  });

  it('hear of a final status written once (as the redemption tracker writes it) through failures that outlast the storage SDK retries', async () => {
    const { proxy, deps: proxied } = await dependenciesBehindFaultProxy('o');
    try {
      const batchId = 'outage';
      const response = await submit(proxied, { batchId, invitations: [invitationFor('accepted@fabrikam.com')] });
      const id: string = response.json.items[0].id;
      await clearQueue(proxied);
      await writeRecord(proxied, id, { status: 'Invited' });
      // Six transactions in a row refused: more than one sync's tries (the SDK retries a 503 three times).
      proxy.configure({ failTransactions: 6 });
      const stored = (await proxied.store.getById(id))!;
      await proxied.store.replace({ ...stored.entity, status: 'Accepted' }, stored.etag);
      expect(proxy.faults.failTransactions).toBe(0);
      expect(await proxied.batches.ledger.counts(batchId)).toEqual({ ...noCounts(), Accepted: 1 });
    } finally {
      await proxy.stop();
    }
  });

  it('count a person named by another batch as a duplicate there, and a person queued again by another batch in both', async () => {
    const first = await submit(deps, { batchId: 'owner', invitations: [invitationFor('shared@fabrikam.com')] });
    const id: string = first.json.items[0].id;
    const second = await submit(deps, { batchId: 'namer', invitations: [invitationFor('shared@fabrikam.com')] });
    expect(second.json.items[0].duplicate).toBe(true);
    await clearQueue(deps);
    await writeRecord(deps, id, { status: 'Failed', errorCode: 'BadRequest', errorMessage: 'no' });
    expect((await deps.batchReports.report('owner')).counts).toMatchObject({ Queued: 0, Failed: 1 });
    const named = await deps.batchReports.report('namer');
    expect(named).toMatchObject({ total: 1, duplicates: 1, counts: { Queued: 0, Failed: 0 } });
    // The duplicate is shown as the person is now.
    expect(named.items[0]).toMatchObject({ id, status: 'Failed', duplicate: true });

    // A failed person submitted again by a third batch is queued there; the first keeps its outcome.
    await submit(deps, { batchId: 'retry', invitations: [invitationFor('shared@fabrikam.com')] });
    await clearQueue(deps);
    expect((await deps.batchReports.report('owner')).counts).toMatchObject({ Failed: 1 });
    expect((await deps.batchReports.report('retry')).counts).toMatchObject({ Queued: 1 });
  });

  it('read the counts and a page in point reads: no record, no query, whatever the batch holds', async () => {
    await submit(deps, { batchId: 'no-scan', invitations: Array.from({ length: 300 }, (_, i) => invitationFor(`ns${i}@fabrikam.com`)) });
    await clearQueue(deps);
    const records = vi.spyOn(deps.store, 'getById');
    const queries = vi.spyOn(deps.store.layout.client, 'listEntities');
    const points = vi.spyOn(deps.store.layout.client, 'getEntity');
    const first = await deps.batchReports.report('no-scan', { pageSize: 100 });
    expect(first.total).toBe(300);
    expect(first.items.map((item) => item.email)).toEqual(Array.from({ length: 100 }, (_, i) => `ns${i}@fabrikam.com`));
    const second = await deps.batchReports.report('no-scan', { pageSize: 100, continuationToken: first.continuationToken! });
    expect(second.items[0]!.email).toBe('ns100@fabrikam.com');
    expect(records).not.toHaveBeenCalled();
    expect(queries).not.toHaveBeenCalled();
    // The batch row and one page row, per page.
    expect(points).toHaveBeenCalledTimes(4);
    vi.restoreAllMocks();
  });
});
