'use strict';
/**
 * Loaded into Azurite's process before Azurite itself (local/azurite.ts, `--require`): makes the
 * queue service's garbage collection of deleted messages cheap and lets requests through while it runs.
 *
 * Azurite 3.37 sweeps the extents (message bodies) of deleted messages once a minute, one by one,
 * each with LokiJS `findAndRemove`, which rebuilds the collection's sorted index on every call, and
 * without yielding in between. After a minute of 20 messages a second, the sweep of about 1,200
 * extents held Azurite's only thread for two to five seconds: every table and queue request waited,
 * and the worker benchmark lost 3 to 5% of its throughput to it (docs/performance.md). Removing
 * each extent's document with `remove` updates the index in place, and a pause every
 * YIELD_EVERY extents lets waiting requests run. Local development only: Azure Storage has no such sweep.
 *
 * If a later Azurite moves or renames what this replaces, nothing is replaced and Azurite runs as
 * it was built; test/localHost/azuriteQueueSweep.test.ts fails then, so the change is noticed.
 */
const path = require('node:path');

const YIELD_EVERY = 50;

/** Replaces LokiExtentMetadataStore.deleteExtent; says whether it did. */
function applyQueueSweepPatch() {
  let store;
  try {
    const root = path.dirname(require.resolve('azurite/package.json'));
    store = require(path.join(root, 'dist', 'src', 'common', 'persistence', 'LokiExtentMetadataStore.js')).default;
  } catch {
    return false;
  }
  const prototype = store && store.prototype;
  if (!prototype || typeof prototype.deleteExtent !== 'function' || prototype.deleteExtent.length !== 1) return false;
  if (prototype.deleteExtent.patchedBy === __filename) return true;
  let deleted = 0;
  async function deleteExtent(extentId) {
    const extents = this.db.getCollection(this.EXTENTS_COLLECTION);
    const document = extents.findOne({ id: extentId });
    if (document) extents.remove(document);
    deleted += 1;
    if (deleted % YIELD_EVERY === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  deleteExtent.patchedBy = __filename;
  prototype.deleteExtent = deleteExtent;
  return true;
}

module.exports = { applied: applyQueueSweepPatch() };
