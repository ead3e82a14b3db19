import { describe, expect, it } from 'vitest';
import { PersonIndex } from '../../shared/storage/personIndex';
import { createTestDependencies } from '../support/harness';

/** Finding people by externalId in few queries (shared/storage/personIndex.ts), on real Azurite. */
describe('the externalId key', () => {
  it('finds every keyed externalId among many (more than one query’s worth per partition), and none it was not given', async () => {
    const { store } = await createTestDependencies();
    const index = new PersonIndex(store.layout);
    const pairs = Array.from({ length: 400 }, (_, i) => ({ externalId: `HR-${i}`, recordId: `${i}`.padStart(32, 'a') }));
    await index.remember(pairs);
    const found = await index.recordIdsOf([...pairs.map((pair) => pair.externalId), 'HR-unknown', 'HR-other']);
    expect(found).toEqual(new Map(pairs.map((pair) => [pair.externalId, pair.recordId])));
    // Keyed again to another record (a new person with the externalId): the last one written wins.
    await index.remember([{ externalId: 'HR-7', recordId: 'b'.repeat(32) }]);
    expect((await index.recordIdsOf(['HR-7'])).get('HR-7')).toBe('b'.repeat(32));
  });
});
