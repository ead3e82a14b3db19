import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import type { QueueTriggerSettings } from './queueListener';

/**
 * host.json `extensions.queues`, read as the Functions host reads it (storage extension 5.x
 * defaults where a value is absent), so that the local host behaves like Azure.
 */

const TIME_SPAN = /^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2}(?:\.\d+)?)$/; // [d.]hh:mm:ss[.fff]
const timeSpanMs = z
  .string()
  .regex(TIME_SPAN, 'expected a TimeSpan such as "00:00:30"')
  .transform((value) => {
    const [, days = '0', hours, minutes, seconds] = TIME_SPAN.exec(value)!;
    return Math.round(((Number(days) * 24 + Number(hours)) * 3600 + Number(minutes) * 60 + Number(seconds)) * 1000);
  });

const queuesSchema = z.object({
  maxPollingInterval: timeSpanMs.prefault('00:01:00'),
  visibilityTimeout: timeSpanMs.prefault('00:00:00'),
  batchSize: z.number().int().min(1).max(32).default(16),
  newBatchThreshold: z.number().int().min(0).optional(),
  maxDequeueCount: z.number().int().min(1).default(5),
  messageEncoding: z.enum(['base64', 'none']).default('base64'),
});

const hostJsonSchema = z.object({
  extensions: z
    .object({ queues: queuesSchema.prefault({}) })
    .partial()
    .prefault({}),
});

export function readQueueTriggerSettings(appRoot: string): QueueTriggerSettings {
  const hostJson = hostJsonSchema.parse(JSON.parse(readFileSync(path.join(appRoot, 'host.json'), 'utf8')));
  const queues = hostJson.extensions.queues ?? queuesSchema.parse({});
  return {
    batchSize: queues.batchSize,
    // The host's default: half the batch size times the number of cores.
    newBatchThreshold: queues.newBatchThreshold ?? Math.floor(queues.batchSize / 2) * os.cpus().length,
    maxPollingIntervalMs: queues.maxPollingInterval,
    visibilityTimeoutMs: queues.visibilityTimeout,
    maxDequeueCount: queues.maxDequeueCount,
    messageEncoding: queues.messageEncoding,
  };
}
