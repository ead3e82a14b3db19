import { describe, expect, it } from 'vitest';
import { GroupCommit } from '../../shared/batches/groupCommit';

// The grouping rules on their own; batchCounts.test.ts runs them on the ledger against Azurite.

/** A commit that holds each group until released, recording the groups it was given. */
function heldCommits() {
  const groups: { key: string; items: number[]; release: (error?: Error) => void }[] = [];
  const commit = (key: string, items: number[]) =>
    new Promise<number[]>((resolve, reject) => {
      groups.push({ key, items, release: (error) => (error ? reject(error) : resolve(items.map((item) => item * 10))) });
    });
  return { groups, commit };
}

describe('group commit', () => {
  it('sends the first write at once, and everything that came meanwhile together in the next, per key', async () => {
    const { groups, commit } = heldCommits();
    const writes = new GroupCommit(commit);
    const first = writes.write('a', 1);
    const rest = [writes.write('a', 2), writes.write('a', 3), writes.write('b', 4)];
    expect(groups.map((group) => [group.key, group.items])).toEqual([
      ['a', [1]],
      ['b', [4]],
    ]);
    groups[0]!.release();
    expect(await first).toBe(10);
    await Promise.resolve();
    expect(groups[2]).toMatchObject({ key: 'a', items: [2, 3] });
    groups[1]!.release();
    groups[2]!.release();
    expect(await Promise.all(rest)).toEqual([20, 30, 40]);
  });

  it('takes no more than the limit in a group, and fails only the group whose commit failed', async () => {
    const { groups, commit } = heldCommits();
    const writes = new GroupCommit(commit, (waiting) => Math.min(2, waiting.length));
    const first = writes.write('a', 1);
    const later = [2, 3, 4].map((item) => writes.write('a', item));
    groups[0]!.release(new Error('storage refused'));
    await expect(first).rejects.toThrow('storage refused');
    await Promise.resolve();
    expect(groups[1]!.items).toEqual([2, 3]);
    groups[1]!.release();
    await expect(later[0]).resolves.toBe(20);
    await Promise.resolve();
    expect(groups[2]!.items).toEqual([4]);
    groups[2]!.release();
    expect(await Promise.all(later)).toEqual([20, 30, 40]);
  });
});
