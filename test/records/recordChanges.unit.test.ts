import { describe, expect, it } from 'vitest';
import { RecordChanges } from '../../shared/records';
import type { RecordEntity } from '../../shared/storage';

/** What follows a record's change (shared/records/recordChanges.ts): the batch's copy and the caller's event. */
describe('what follows a record’s change', () => {
  const entity = (status: RecordEntity['status']) => ({ id: 'p1', batchId: 'b1', status }) as RecordEntity;

  function following({ syncFailures = 0, eventFails = false } = {}) {
    const seen = { syncs: 0, events: [] as string[], warnings: [] as string[] };
    const changes = new RecordChanges(
      {
        sync: async () => {
          seen.syncs += 1;
          if (seen.syncs <= syncFailures) throw new Error('storage is away');
          return true;
        },
      },
      {
        announce: async (changed) => {
          if (eventFails) throw new Error('the events queue is away');
          seen.events.push(changed.status);
        },
      },
      { warn: (line) => seen.warnings.push(line) },
    );
    return { changes, seen };
  }

  it('syncs the batch’s copy and announces the event', async () => {
    const { changes, seen } = following();
    await changes.follow({ batchId: 'b1', recordId: 'p1', batchPosition: 3, entity: entity('Invited') });
    expect(seen).toEqual({ syncs: 1, events: ['Invited'], warnings: [] });
  });

  it('retries a final status’s copy until it lands: nothing else would sync it again', async () => {
    const { changes, seen } = following({ syncFailures: 2 });
    await changes.follow({ batchId: 'b1', recordId: 'p1', batchPosition: 3, entity: entity('Failed') });
    expect(seen.syncs).toBe(3);
    expect(seen.warnings).toEqual([]);
  });

  it('lets a step in between lag (the sweep catches it up), and says so, without failing the write', async () => {
    const { changes, seen } = following({ syncFailures: 1 });
    await changes.follow({ batchId: 'b1', recordId: 'p1', batchPosition: 3, entity: entity('Processing') });
    expect(seen.syncs).toBe(1);
    expect(seen.warnings).toEqual(['Invitation p1: its copy in batch b1 lags (Error: storage is away).']);
  });

  it('never lets a failed event fail the change: it is announced again when the message is redelivered', async () => {
    const { changes, seen } = following({ eventFails: true });
    await changes.follow({ batchId: 'b1', recordId: 'p1', batchPosition: 3, entity: entity('Invited') });
    expect(seen.syncs).toBe(1);
    expect(seen.warnings).toEqual(['Invitation p1: the event of its Invited lags (Error: the events queue is away).']);
  });

  it('announces nothing for a change within the same status, and syncs nothing for a person without a place', async () => {
    const { changes, seen } = following();
    await changes.follow({ batchId: 'b1', recordId: 'p1', batchPosition: 3, entity: entity('Invited'), announce: false });
    await changes.follow({ batchId: 'b1', recordId: 'p1', entity: entity('Accepted') });
    expect(seen).toEqual({ syncs: 1, events: ['Accepted'], warnings: [] });
  });
});
