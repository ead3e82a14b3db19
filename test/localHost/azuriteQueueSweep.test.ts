import { readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startAzurite } from '../../local/azurite';

// Azurite's sweep of deleted messages' bodies held its only thread for seconds once a minute:
// local/azuriteQueueSweep.cjs makes it cheap and lets requests through meanwhile.

// eslint-disable-next-line @typescript-eslint/no-require-imports -- plain CommonJS, ours and Azurite's, without types
const sweep = require('../../local/azuriteQueueSweep.cjs') as { applied: boolean };
const azuriteRoot = path.dirname(require.resolve('azurite/package.json'));
// eslint-disable-next-line @typescript-eslint/no-require-imports -- as above
const ExtentStore = require(path.join(azuriteRoot, 'dist', 'src', 'common', 'persistence', 'LokiExtentMetadataStore.js')).default;

describe("Azurite's queue sweep", () => {
  it('is patched in the Azurite that node_modules holds (a later Azurite that moved it fails here)', () => {
    expect(sweep.applied).toBe(true);
  });

  it('removes exactly the extents it is given, and lets other work run while it does', async () => {
    const store = new ExtentStore(path.join(tmpdir(), 'sweep-test.db'), true);
    await store.init();
    for (let i = 0; i < 3_000; i += 1)
      await store.updateExtent({ id: `extent${i}`, locationId: 'memory', path: `extent${i}`, size: 1, lastModifiedInMS: 0 });
    let turnsOfOtherWork = 0;
    let sweeping = true;
    const otherWork = () => {
      turnsOfOtherWork += 1;
      if (sweeping) setImmediate(otherWork);
    };
    setImmediate(otherWork);
    // As Azurite's sweep does: one extent after the other, each awaited.
    for (let i = 0; i < 3_000; i += 2) await store.deleteExtent(`extent${i}`);
    sweeping = false;
    // Unpatched, the loop never yields to the event loop: other work gets no turn until it ends.
    expect(turnsOfOtherWork).toBeGreaterThanOrEqual(20);
    const [left] = (await store.listExtents(undefined, 5_000, 0)) as [{ id: string }[]];
    const expected = Array.from({ length: 1_500 }, (_, i) => `extent${2 * i + 1}`);
    expect(left.map((extent) => extent.id).sort()).toEqual(expected.sort());
  });

  it.runIf(process.platform === 'linux')('is loaded into the Azurite that tests, benchmarks and npm start run', async () => {
    const azurite = await startAzurite();
    try {
      // Azurite's own process (not its guard's) names our queue port and the patch.
      const commandLines = readdirSync('/proc')
        .filter((entry) => /^\d+$/.test(entry))
        .map((pid) => {
          try {
            return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
          } catch {
            return [];
          }
        });
      const ours = commandLines.filter((args) => args.includes(String(azurite.ports.queue)) && !args.includes('-e'));
      expect(ours).toHaveLength(1);
      expect(ours[0]).toContain(path.resolve(__dirname, '..', '..', 'local', 'azuriteQueueSweep.cjs'));
    } finally {
      await azurite.stop();
    }
  });
});
