/**
 * Azure Table storage's documented limits, which every value we store must fit (Azurite is
 * looser, so the intake checks them itself): a value that passes validation must be storable.
 * See "Understanding the Table service data model": https://learn.microsoft.com/rest/api/storageservices/understanding-the-table-service-data-model
 */

/** A string property holds at most 64 KiB: 32 K UTF-16 characters. */
export const MAX_PROPERTY_CHARACTERS = 32 * 1024;

/**
 * PartitionKey and RowKey are at most 1 KiB each. Our keys are ASCII (ids, percent-encoded text),
 * so 512 characters fit whether the service counts characters, UTF-8 or UTF-16 bytes.
 */
export const MAX_KEY_CHARACTERS = 512;

// A high surrogate not followed by a low one, or a low one not preceded by a high one.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Whether text is well-formed UTF-16 (String.prototype.isWellFormed, without needing ES2024 types).
 * JSON may carry a lone surrogate ("\ud800"); storage rejects it, and encodeURIComponent throws on it.
 */
export function isWellFormedText(text: string): boolean {
  return !LONE_SURROGATE.test(text);
}
