import { TableClient } from '@azure/data-tables';
import { describe, expect, inject, it } from 'vitest';
import { GraphPacer } from '../../shared/graph/graphPacer';
import { RateShares, shareOf } from '../../shared/graph/rateShares';
import { TableLayout } from '../../shared/storage/tableLayout';
import { uniqueResourceNames } from '../support/harness';
import { waitFor } from '../support/graphEmulator';

// One Graph budget for the app: instances agree on their shares through the app's own table.

async function freshTable(): Promise<TableClient> {
  const table = TableClient.fromConnectionString(inject('azuriteConnectionString'), uniqueResourceNames('s').tableName, {
    allowInsecureConnection: true,
  });
  await table.createTable();
  return table;
}

function instance(table: TableClient, name: string, heartbeatMs = 300) {
  const pacer = new GraphPacer({ maxWritesPerSecond: 20 });
  const shares = new RateShares({ rows: new TableLayout(table).rows('rateShares'), pacer, instanceId: name, heartbeatMs });
  return { pacer, shares, demand: () => pacer.noteDemand() };
}

describe('shares of the ceiling', () => {
  it.each([2, 3, 4, 6, 7, 8, 11, 14, 20])(
    'split 20/s among %i instances in whole writes per second, summing to 20, none under half an equal share',
    (instances) => {
      const writes = Array.from({ length: instances }, (_, rank) => shareOf(rank, instances, 20) * 20);
      for (const share of writes) {
        expect(Number.isInteger(Math.round(share * 1e9) / 1e9)).toBe(true);
        expect(share).toBeGreaterThanOrEqual(0.5 * (20 / instances));
      }
      expect(writes.reduce((sum, share) => sum + share, 0)).toBeCloseTo(20);
    },
  );

  it('split equally once there are more instances than writes per second', () => {
    expect(shareOf(0, 40, 20)).toBe(1 / 40);
    expect(shareOf(39, 40, 20)).toBe(1 / 40);
  });
});

describe('rate shares between instances', () => {
  it('give each busy instance an equal share of GRAPH_MAX_WRITES_PER_SECOND, and none to an idle one', async () => {
    const table = await freshTable();
    const [a, b, idle] = [instance(table, 'a'), instance(table, 'b'), instance(table, 'idle')];
    a.demand();
    b.demand();
    await idle.shares.beat();
    await a.shares.beat();
    await b.shares.beat();
    expect(await a.shares.beat()).toBe(0.5);
    expect(a.pacer.ceiling).toBe(10);
    expect(b.pacer.ceiling).toBe(10);
    expect(a.shares.instances).toBe(2);
  });

  it("hand a dead instance's share to the others once its heartbeat is three beats old", async () => {
    const table = await freshTable();
    const [a, dead] = [instance(table, 'alive'), instance(table, 'dead')];
    a.demand();
    dead.demand();
    await dead.shares.beat(); // its last sign of life
    expect(await a.shares.beat()).toBe(0.5);
    const diedAt = Date.now();
    const share = await waitFor(
      async () => {
        const current = await a.shares.beat();
        return current === 1 ? current : undefined;
      },
      { timeoutMs: 10_000, what: 'the dead instance to drop out' },
    );
    expect(share).toBe(1);
    expect(Date.now() - diedAt).toBeGreaterThanOrEqual(1_400);
  });

  it('keep counting an instance whose calls paused for a few seconds, and give its share away once it has been idle for 15 s', async () => {
    const table = await freshTable();
    const [a, b] = [instance(table, 'a'), instance(table, 'b')];
    a.demand();
    // b's calls have all waited on storage for 10 s, as on a loaded machine: it is still busy. Were
    // it dropped, a's rate would rise and fall again with every such pause.
    b.pacer.lastDemandAt = Date.now() - 10_000;
    await b.shares.beat();
    expect(await a.shares.beat()).toBe(0.5);
    b.pacer.lastDemandAt = Date.now() - 16_000;
    await b.shares.beat();
    expect(await a.shares.beat()).toBe(1);
  });

  it("judge liveness by the storage service's timestamps, not by this machine's clock", async () => {
    const table = await freshTable();
    // Another instance whose clock is an hour behind wrote just now: storage stamps its row with the service's time.
    await table.upsertEntity(
      { partitionKey: 'pacer', rowKey: 'skewed', busy: true, reportedAt: new Date(Date.now() - 3_600_000).toISOString() },
      'Replace',
    );
    const a = instance(table, 'a');
    a.demand();
    expect(await a.shares.beat()).toBe(0.5);
  });
});
