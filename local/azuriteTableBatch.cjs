'use strict';
/**
 * Loaded into Azurite's process before Azurite itself (local/azurite.ts, `--require`): lets a table
 * transaction carry U+2028 and U+2029 (line and paragraph separators) in its JSON.
 *
 * JSON allows both raw inside a string, and JSON.stringify leaves them raw, so an entity whose text
 * holds one (a display name, a custom message) goes raw into the transaction's body. Azurite 3.37
 * finds each operation's JSON with /{+.+}+/, whose `.` stops at them: it cuts the JSON short and
 * answers 500 to the whole transaction. Azure Table storage parses JSON as JSON and stores them.
 * The fix writes them as the escapes `\u2028` and `\u2029` before Azurite reads the body: the same
 * JSON value, on one line. They occur nowhere else in a transaction (URLs are percent-encoded).
 * Local development only. If a later Azurite moves or renames what this wraps, nothing is wrapped;
 * test/storage/unicodeTransactions.test.ts fails then, so the change is noticed.
 */
const path = require('node:path');

/** Wraps TableBatchSerialization.deserializeBatchRequest; says whether it did. */
function applyTableBatchPatch() {
  let serialization;
  try {
    const root = path.dirname(require.resolve('azurite/package.json'));
    serialization = require(path.join(root, 'dist', 'src', 'table', 'batch', 'TableBatchSerialization.js')).TableBatchSerialization;
  } catch {
    return false;
  }
  const prototype = serialization && serialization.prototype;
  if (!prototype || typeof prototype.deserializeBatchRequest !== 'function') return false;
  if (prototype.deserializeBatchRequest.patchedBy === __filename) return true;
  const original = prototype.deserializeBatchRequest;
  function deserializeBatchRequest(batchRequestsString) {
    const oneLine =
      typeof batchRequestsString === 'string'
        ? batchRequestsString.replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029')
        : batchRequestsString;
    return original.call(this, oneLine);
  }
  deserializeBatchRequest.patchedBy = __filename;
  prototype.deserializeBatchRequest = deserializeBatchRequest;
  return true;
}

module.exports = { applied: applyTableBatchPatch() };
