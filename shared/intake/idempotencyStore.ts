import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { Conflict, MAX_PROPERTY_CHARACTERS } from '../core';
import { isConflict, isNotFound, type PartitionRows } from '../storage';

/**
 * Idempotency-Key (IETF httpapi draft "The Idempotency-Key HTTP Header Field"): the same key
 * within 24 h gets the first answer again and does nothing more; the same key with another body
 * is a 422; a key whose first request is still running is a 409. A signed request's (t, v1) is a
 * key of its own, so a replayed signature is answered without acting again.
 *
 * Rows: PartitionKey `idem`, RowKey the SHA-256 of the key; the first answer gzipped, base64, in
 * as many properties as it needs.
 */

export const IDEMPOTENCY_WINDOW_MS = 24 * 60 * 60 * 1000;
const ANSWER_PART_CHARACTERS = MAX_PROPERTY_CHARACTERS - 1_024;

interface KeyRow {
  requestHash: string;
  state: 'running' | 'done';
  createdAt: string;
  parts?: number;
  [part: `answer${number}`]: string;
}

export class IdempotencyStore {
  /** @param rows the `idem` rows (storage/tableLayout.ts) */
  constructor(private readonly rows: PartitionRows) {}

  /**
   * Claims `keys` for this request: the earlier answer when one of them already has one, or
   * undefined when the request may run (its keys are then held as running until `complete` or `release`).
   */
  async begin<T>(keys: readonly string[], body: Uint8Array): Promise<{ replay: T } | undefined> {
    const requestHash = createHash('sha256').update(body).digest('hex');
    for (const key of keys) {
      const earlier = await this.read(key);
      if (earlier) return { replay: this.answerOf<T>(earlier, requestHash) };
    }
    const claimed: string[] = [];
    for (const key of keys) {
      try {
        await this.rows.create(rowKey(key), { requestHash, state: 'running', createdAt: new Date().toISOString() });
        claimed.push(key);
      } catch (error) {
        if (!isConflict(error)) throw error;
        const row = await this.read(key, true);
        if (row && Date.now() - Date.parse(row.createdAt) < IDEMPOTENCY_WINDOW_MS) {
          await this.release(claimed);
          return { replay: this.answerOf<T>(row, requestHash) };
        }
        // An expired row: this request takes the key over.
        await this.rows.upsert(rowKey(key), { requestHash, state: 'running', createdAt: new Date().toISOString() }, 'Replace');
        claimed.push(key);
      }
    }
    return undefined;
  }

  /** Keeps the answer under every key. */
  async complete(keys: readonly string[], body: Uint8Array, answer: unknown): Promise<void> {
    const requestHash = createHash('sha256').update(body).digest('hex');
    const packed = gzipSync(JSON.stringify(answer)).toString('base64');
    const parts = Math.max(1, Math.ceil(packed.length / ANSWER_PART_CHARACTERS));
    const answerProperties = Object.fromEntries(
      Array.from({ length: parts }, (_, i) => [`answer${i}`, packed.slice(i * ANSWER_PART_CHARACTERS, (i + 1) * ANSWER_PART_CHARACTERS)]),
    );
    for (const key of keys) {
      await this.rows.upsert(
        rowKey(key),
        { requestHash, state: 'done', createdAt: new Date().toISOString(), parts, ...answerProperties },
        'Replace',
      );
    }
  }

  /** Frees the keys of a request that failed on our side, so that its retry runs. */
  async release(keys: readonly string[]): Promise<void> {
    for (const key of keys) await this.rows.delete(rowKey(key)).catch(() => undefined);
  }

  private async read(key: string, evenExpired = false): Promise<KeyRow | undefined> {
    try {
      const row = await this.rows.get<KeyRow>(rowKey(key));
      return evenExpired || Date.now() - Date.parse(row.createdAt) < IDEMPOTENCY_WINDOW_MS ? row : undefined;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  private answerOf<T>(row: KeyRow, requestHash: string): T {
    if (row.requestHash !== requestHash) {
      throw new Conflict('This Idempotency-Key was first used with a different body; use a new key for a new request.', 'key-reused');
    }
    if (row.state !== 'done') {
      throw new Conflict('A request with this Idempotency-Key (or signature) is still being processed; retry in a moment.', 'in-progress');
    }
    const packed = Array.from({ length: row.parts ?? 1 }, (_, i) => row[`answer${i}`] ?? '').join('');
    return JSON.parse(gunzipSync(Buffer.from(packed, 'base64')).toString('utf8')) as T;
  }
}

const rowKey = (key: string) => createHash('sha256').update(key).digest('hex');
