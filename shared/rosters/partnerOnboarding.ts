import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { BlobItem, ContainerClient } from '@azure/storage-blob';
import { type Log, normalizeEmailAddress, type RejectedItem, Unavailable } from '../core';
import { emptyResultsCsv, type BatchReports, stringifyForSpreadsheets } from '../batches';
import { combinePlans, type Intake, type InvitationPlan, planCsv, validateItems } from '../intake';
import { type RosterProgressStore, type RosterProgress } from './rosterProgress';
import { readRosterRows, rosterFormat, RosterFormatError, type RosterRow } from './rosterRows';
import { isConflict, isNotFound, isOutage, isPreconditionFailed } from '../storage';
import { leaversCsv, type RosterSync, syncRequestOf, type SyncVerdict } from './rosterSync';

/**
 * Scheduled partner onboarding: every new roster in the `partner-rosters` container goes through
 * the intake (validation, domain policy, idempotency by email) as one batch named after the file
 * and its ETag, so a re-run never submits it twice. Rows are recorded in chunks with progress
 * kept in the table, so a run that stops half-way (the time budget, a crash) resumes after the
 * last recorded chunk. A roster moves to processed/ once every row is recorded, or to failed/
 * with a `.error.txt` when it cannot be read; results/<name>-results.csv is written once every
 * person of its batch has a final status. A roster whose metadata says `dryRun=true` is planned
 * instead (intake/invitationPlanner.ts): results/<name>-plan.csv says what it would do, nobody is
 * invited, and the file stays where it is until its metadata says otherwise (which makes it a new
 * version, recorded from its first row). A roster whose metadata says `sync=true` and
 * `partner=<key>` is that partner's whole list (rosterSync.ts): once its rows are recorded, the
 * partner's people it no longer names leave (results/<name>-leavers.csv), unless there are too
 * many of them, in which case it stops before anything is done and waits for an operator.
 */

export const ROSTERS_CONTAINER = 'partner-rosters';
const PROCESSED = 'processed/';
const FAILED = 'failed/';
const RESULTS = 'results/';
export const ROSTER_CHUNK_SIZE = 1_000;

/**
 * Blob metadata that fills what a roster's rows leave out, by metadata key (Blob storage matches
 * metadata keys case-insensitively; we read them lower-cased): the row field it fills, as a dotted
 * path, and how its text becomes the field's value.
 */
export const ROSTER_METADATA_DEFAULTS: Readonly<Record<string, { field: string; value: (text: string) => unknown }>> = {
  inviteredirecturl: { field: 'inviteRedirectUrl', value: (text) => text },
  messagelanguage: { field: 'invitedUserMessageInfo.messageLanguage', value: (text) => text },
  // 'true' and 'false' as the JSON intake takes them; any other text is left for validation to reject.
  sendinvitationmessage: {
    field: 'sendInvitationMessage',
    value: (text) => (/^(true|false)$/i.test(text) ? text.toLowerCase() === 'true' : text),
  },
  // Group ids separated by ";", like the CSV's [groups] column: the roster's people join them.
  groups: {
    field: 'groups',
    value: (text) =>
      text
        .split(';')
        .map((id) => id.trim())
        .filter((id) => id.length > 0),
  },
};

export interface PartnerOnboardingOptions {
  /** PARTNER_ONBOARDING_BUDGET_SECONDS, in ms: a run starts no new roster after this long (the rest wait for the next run). */
  budgetMs: number;
  /**
   * Rows recorded per chunk; progress is saved after each, so a run stopped half-way resumes after the last one.
   * @default ROSTER_CHUNK_SIZE (1,000)
   */
  chunkSize?: number;
  /** Synced rosters (metadata sync=true): who leaves, and the guard. None: a synced roster fails, saying so. */
  sync?: RosterSync;
}

export interface OnboardingRun {
  recorded: string[];
  /** Rosters with `dryRun=true`: their plan is written, and they wait for their metadata to change. */
  planned: string[];
  /** Synced rosters the leavers' guard stopped: they wait for an operator (metadata allowLeavers=<n>). */
  stopped: string[];
  resumedLater: string[];
  failed: string[];
  completed: string[];
}

export function rosterBatchId(name: string, etag: string): string {
  return `roster-${createHash('sha256')
    .update(`${name}\n${unquoted(etag)}`)
    .digest('hex')
    .slice(0, 32)}`;
}

// Blob listings give ETags bare, response headers quoted; If-Match wants them quoted.
const unquoted = (etag: string) => etag.replace(/^"|"$/g, '');
const quoted = (etag: string) => `"${unquoted(etag)}"`;

export class PartnerOnboarding {
  constructor(
    /** The `partner-rosters` container (created lazily: intake-only deployments need no blob endpoint). */
    readonly container: () => ContainerClient,
    private readonly intake: Intake,
    private readonly batchReports: BatchReports,
    private readonly progress: RosterProgressStore,
    private readonly options: PartnerOnboardingOptions,
  ) {}

  async run(log: Pick<Log, 'info' | 'warn'>): Promise<OnboardingRun> {
    const deadline = Date.now() + this.options.budgetMs;
    const container = this.container();
    await container.createIfNotExists();
    const run: OnboardingRun = { recorded: [], planned: [], stopped: [], resumedLater: [], failed: [], completed: [] };

    for (const [position, blob] of (await this.newRosters(container)).entries()) {
      // Every run makes progress on at least one roster, however short its budget.
      if (position > 0 && Date.now() > deadline) {
        run.resumedLater.push(blob.name);
        continue;
      }
      run[await this.recordOrSetAside(container, blob, deadline, log)].push(blob.name);
    }
    for await (const progress of this.progress.awaitingResults()) {
      if (await this.writeResultsIfFinal(container, progress)) {
        run.completed.push(progress.name);
        log.info(`Roster ${progress.name}: every person has a final status; wrote ${RESULTS}${progress.name}-results.csv.`);
      }
    }
    return run;
  }

  /**
   * Top-level blobs (not processed/, failed/ or results/), oldest first. Listed without their
   * metadata: the storage SDK refuses a whole listing when one blob has a metadata key such as
   * `constructor`, which would stop every roster behind it. Each roster's metadata comes with its
   * download instead, where it can only fail that roster.
   */
  private async newRosters(container: ContainerClient): Promise<BlobItem[]> {
    const blobs: BlobItem[] = [];
    for await (const item of container.listBlobsByHierarchy('/')) {
      if (item.kind === 'blob') blobs.push(item);
    }
    return blobs.sort((a, b) => a.properties.lastModified.getTime() - b.properties.lastModified.getTime() || a.name.localeCompare(b.name));
  }

  /**
   * Records one roster. One that fails for any reason of its own (its content, its name, a row
   * storage refuses) moves to failed/ with the reason, so it never blocks the rosters after it.
   * A storage outage is not the roster's fault: it stops the run, and the next run tries again.
   */
  private async recordOrSetAside(
    container: ContainerClient,
    blob: BlobItem,
    deadline: number,
    log: Pick<Log, 'info' | 'warn'>,
  ): Promise<Outcome> {
    try {
      return await this.record(container, blob, deadline, log);
    } catch (error) {
      if (isStorageOutage(error)) throw error;
      // Replaced or removed while we read it: the new version, if any, is a new roster for the next run.
      if (isBlobChanged(error)) return 'resumedLater';
      await this.fail(container, blob, `The roster could not be recorded: ${reasonOf(error)}`, log);
      await this.progress.delete(blob.name).catch(() => undefined);
      return 'failed';
    }
  }

  private async record(container: ContainerClient, blob: BlobItem, deadline: number, log: Pick<Log, 'info' | 'warn'>): Promise<Outcome> {
    const etag = quoted(blob.properties.etag!);
    const format = rosterFormat(blob.name);
    if (!format) {
      await this.fail(
        container,
        blob,
        'A roster must be a .csv (the Entra bulk-invite format) or a .json ({"invitations": [...]}) file.',
        log,
      );
      return 'failed';
    }
    let progress = await this.progress.get(blob.name);
    // Planned (or stopped by the leavers' guard) already, and unchanged since: it waits for its metadata to change.
    if ((progress?.status === 'planned' || progress?.status === 'stopped') && quoted(progress.blobEtag) === etag) return progress.status;
    const metadata = (await container.getBlobClient(blob.name).getProperties({ conditions: { ifMatch: etag } })).metadata ?? {};
    const sync = this.syncOf(metadata);
    if (sync && 'problem' in sync) {
      await this.fail(container, blob, sync.problem, log);
      await this.progress.delete(blob.name);
      return 'failed';
    }
    if (!progress || quoted(progress.blobEtag) !== etag) {
      // New, or replaced by a new version: a new batch from the first row.
      progress = {
        name: blob.name,
        blobEtag: etag,
        batchId: rosterBatchId(blob.name, etag),
        status: 'recording',
        rowsDone: 0,
        accepted: 0,
        rejected: 0,
        updatedAt: '',
      };
    } else if (progress.rowsDone > 0) {
      log.info(`Roster ${blob.name}: resuming after row ${progress.rowsDone}.`);
    }

    let verdict: SyncVerdict | undefined;
    if (progress.status === 'recording') {
      const defaults = metadataDefaults(metadata);
      if (isDryRun(metadata)) return await this.plan(container, progress, format, defaults, sync, log);
      if (sync && progress.rowsDone === 0) {
        // Before the first row: a roster the guard stops invites nobody either.
        verdict = await this.syncVerdict(container, progress, format, defaults, sync);
        if (verdict.stopped) return await this.stop(container, progress, verdict, log);
      }
      const download = await container.getBlobClient(blob.name).download(0, undefined, { conditions: { ifMatch: etag } });
      const stream = download.readableStreamBody as Readable;
      let chunk: RosterRow[] = [];
      const partner = sync ? { partner: sync.request.partner } : {};
      try {
        for await (const row of readRosterRows(stream, format)) {
          if (row.row < progress.rowsDone) continue;
          chunk.push(row);
          if (chunk.length < (this.options.chunkSize ?? ROSTER_CHUNK_SIZE)) continue;
          await this.recordChunk(container, progress, chunk, defaults, partner);
          chunk = [];
          if (Date.now() > deadline) {
            stream.destroy();
            log.info(`Roster ${blob.name}: ${progress.rowsDone} rows recorded; the run's time is up, the next run resumes.`);
            return 'resumedLater';
          }
        }
        if (chunk.length > 0) await this.recordChunk(container, progress, chunk, defaults, partner);
      } catch (error) {
        stream.destroy();
        if (!(error instanceof RosterFormatError)) throw error;
        const recordedNote =
          progress.rowsDone > 0 ? ` The ${progress.rowsDone} rows before the problem were recorded (batch ${progress.batchId}).` : '';
        await this.fail(container, blob, `${error.message}${recordedNote}`, log);
        await this.progress.delete(blob.name);
        return 'failed';
      }
      progress.status = 'recorded';
      await this.progress.save(progress);
    }
    // Every row recorded: the partner's people this roster no longer names leave (again after a crash: leaving is idempotent).
    // The verdict read before the first row still holds (the roster's own people are not leavers);
    // a run resumed after its first one reads the roster again for it.
    if (sync) {
      verdict ??= await this.syncVerdict(container, progress, format, metadataDefaults(metadata), sync);
      await this.applyLeavers(container, progress, verdict, sync, deadline, log);
    }
    // Only now, with every row recorded, does the roster leave the inbox.
    await moveBlob(container, blob.name, `${PROCESSED}${blob.name}`, etag);
    log.info(
      `Roster ${blob.name}: ${progress.accepted} people recorded in batch ${progress.batchId}, ${progress.rejected} rows rejected; moved to ${PROCESSED}.`,
    );
    return 'recorded';
  }

  /** A dry run of the roster: its plan in results/<name>-plan.csv, chunk by chunk, and nothing recorded; a synced roster's leavers after its rows. */
  private async plan(
    container: ContainerClient,
    progress: RosterProgress,
    format: RosterFormat,
    defaults: MetadataDefaults,
    sync: Sync | undefined,
    log: Pick<Log, 'info' | 'warn'>,
  ): Promise<'planned'> {
    const parts: { start: number; plan: InvitationPlan }[] = [];
    let chunk: RosterRow[] = [];
    const planChunk = async () => {
      parts.push({ start: 0, plan: await this.intake.planItems(validateItems(itemsOf(chunk, defaults))) });
      chunk = [];
    };
    for await (const row of this.rows(container, progress, format)) {
      chunk.push(row);
      if (chunk.length >= (this.options.chunkSize ?? ROSTER_CHUNK_SIZE)) await planChunk();
    }
    if (chunk.length > 0 || parts.length === 0) await planChunk();
    const plan = combinePlans(parts);
    const verdict = sync ? await this.syncVerdict(container, progress, format, defaults, sync) : undefined;
    const csv = planCsv(plan) + (verdict ? sync!.roster.planLines(verdict) : '');
    await container.getBlockBlobClient(`${RESULTS}${progress.name}-plan.csv`).upload(csv, Buffer.byteLength(csv), {
      blobHTTPHeaders: { blobContentType: 'text/csv; charset=utf-8' },
    });
    const { counts } = plan.summary;
    await this.progress.save({
      ...progress,
      status: 'planned',
      rowsDone: plan.summary.rows,
      accepted: plan.summary.rows - counts.Rejected,
      rejected: counts.Rejected,
    });
    const leaving = verdict
      ? `; ${verdict.leavers.length} of partner ${verdict.partner}'s people would leave${verdict.stopped ? ` (the guard would stop it: ${verdict.stopped})` : ''}`
      : '';
    log.info(
      `Roster ${progress.name}: planned (dryRun=true), nobody invited: ${describeCounts(counts)}${leaving}; wrote ${RESULTS}${progress.name}-plan.csv. Set its metadata dryRun=false to invite.`,
    );
    return 'planned';
  }

  /** The roster's sync request, once the operator allows syncing: NotAllowed (the roster fails, saying why) otherwise. */
  private syncOf(metadata: Record<string, string>): Sync | { problem: string } | undefined {
    const request = syncRequestOf(metadata);
    if (!request || 'problem' in request) return request;
    if (!this.options.sync)
      return { problem: 'This deployment does not sync rosters (metadata sync=true): no leavers can be made from a roster here.' };
    this.options.sync.ensureAllowed();
    return { request, roster: this.options.sync };
  }

  /** Who of the partner's people this roster leaves out, read from the whole roster (every row's address, valid or not). */
  private async syncVerdict(
    container: ContainerClient,
    progress: RosterProgress,
    format: RosterFormat,
    defaults: MetadataDefaults,
    sync: Sync,
  ): Promise<SyncVerdict> {
    const emails = new Set<string>();
    for await (const row of this.rows(container, progress, format)) {
      const [item] = validateItems(itemsOf([row], defaults)).accepted;
      const address = item?.invitation.invitedUserEmailAddress ?? emailOfRow(row.value);
      if (address) emails.add(normalizeEmailAddress(address));
    }
    return sync.roster.verdict(sync.request, emails, leftBecause(progress));
  }

  /** The guard stopped the roster: nobody invited or removed; results/<name>-leavers.csv says who and why; it waits for its metadata to change. */
  private async stop(
    container: ContainerClient,
    progress: RosterProgress,
    verdict: SyncVerdict,
    log: Pick<Log, 'info' | 'warn'>,
  ): Promise<'stopped'> {
    await this.writeLeavers(container, progress.name, leaversCsv(verdict));
    await this.progress.save({ ...progress, status: 'stopped' });
    log.warn(`Roster ${progress.name}: stopped: ${verdict.stopped} See ${RESULTS}${progress.name}-leavers.csv.`);
    return 'stopped';
  }

  private async applyLeavers(
    container: ContainerClient,
    progress: RosterProgress,
    verdict: SyncVerdict,
    sync: Sync,
    deadline: number,
    log: Pick<Log, 'info' | 'warn'>,
  ): Promise<void> {
    const answers = verdict.stopped ? undefined : await sync.roster.apply(verdict, leftBecause(progress), deadline);
    await this.writeLeavers(container, progress.name, leaversCsv(verdict, answers));
    if (verdict.stopped) log.warn(`Roster ${progress.name}: its people are recorded, but nobody left: ${verdict.stopped}`);
    else
      log.info(
        `Roster ${progress.name}: ${verdict.leavers.length} of partner ${verdict.partner}'s people left; wrote ${RESULTS}${progress.name}-leavers.csv.`,
      );
  }

  private async writeLeavers(container: ContainerClient, name: string, csv: string): Promise<void> {
    await container.getBlockBlobClient(`${RESULTS}${name}-leavers.csv`).upload(csv, Buffer.byteLength(csv), {
      blobHTTPHeaders: { blobContentType: 'text/csv; charset=utf-8' },
    });
  }

  /** The roster's rows, read from the version this progress is about. */
  private async *rows(container: ContainerClient, progress: RosterProgress, format: RosterFormat): AsyncGenerator<RosterRow> {
    const download = await container
      .getBlobClient(progress.name)
      .download(0, undefined, { conditions: { ifMatch: quoted(progress.blobEtag) } });
    yield* readRosterRows(download.readableStreamBody as Readable, format);
  }

  private async recordChunk(
    container: ContainerClient,
    progress: RosterProgress,
    chunk: RosterRow[],
    defaults: MetadataDefaults,
    partner: { partner?: string },
  ): Promise<void> {
    // Keyed by its first row: a chunk recorded again after a crash rewrites its own batch rows.
    const submissionKey = `rows-${String(chunk[0]!.row).padStart(10, '0')}`;
    const result = await this.intake.admit(progress.batchId, validateItems(itemsOf(chunk, defaults)), submissionKey, {
      source: { kind: 'roster', roster: progress.name },
      keepRejectedWhenNoneAccepted: true,
      ...partner,
    });
    if (result.rejected.length > 0) await appendRejections(container, progress.name, result.rejected);
    progress.rowsDone = chunk[chunk.length - 1]!.row + 1;
    progress.accepted += result.items.length;
    progress.rejected += result.rejected.length;
    await this.progress.save(progress);
  }

  private async writeResultsIfFinal(container: ContainerClient, progress: RosterProgress): Promise<boolean> {
    const csv = progress.accepted + progress.rejected === 0 ? emptyResultsCsv() : await this.batchReports.finalResultsCsv(progress.batchId);
    if (csv === undefined) return false;
    await container.getBlockBlobClient(`${RESULTS}${progress.name}-results.csv`).upload(csv, Buffer.byteLength(csv), {
      blobHTTPHeaders: { blobContentType: 'text/csv; charset=utf-8' },
    });
    await this.progress.save({ ...progress, status: 'completed' });
    return true;
  }

  private async fail(container: ContainerClient, blob: BlobItem, reason: string, log: Pick<Log, 'info' | 'warn'>): Promise<void> {
    const errorText = `${reason}\n`;
    await container.getBlockBlobClient(`${FAILED}${blob.name}.error.txt`).upload(errorText, Buffer.byteLength(errorText), {
      blobHTTPHeaders: { blobContentType: 'text/plain; charset=utf-8' },
    });
    await moveBlob(container, blob.name, `${FAILED}${blob.name}`, quoted(blob.properties.etag!));
    log.warn(`Roster ${blob.name}: moved to ${FAILED}: ${reason}`);
  }
}

type Outcome = 'recorded' | 'planned' | 'stopped' | 'resumedLater' | 'failed';
type RosterFormat = NonNullable<ReturnType<typeof rosterFormat>>;
/** A synced roster: what its metadata asks, and who decides. */
interface Sync {
  request: { partner: string; allowLeavers?: number };
  roster: RosterSync;
}

/** What a synced roster's leavers are marked with: the roster's version, so a resumed run knows its own. */
const leftBecause = (progress: RosterProgress) => `roster ${progress.name} (batch ${progress.batchId})`;

/** A row's address as written, for a row that is not valid otherwise (it still names the person). */
function emailOfRow(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const found = Object.entries(value).find(([key]) => key.toLowerCase() === 'inviteduseremailaddress')?.[1];
  return typeof found === 'string' && found.includes('@') ? found.trim() : undefined;
}

/** The roster's metadata that ROSTER_METADATA_DEFAULTS knows, by its lower-cased key. */
type MetadataDefaults = Record<string, string>;

/** A chunk's rows as the intake validates them, numbered by their place in the roster. */
function itemsOf(chunk: readonly RosterRow[], defaults: MetadataDefaults) {
  return chunk.map((row) => ({
    index: row.row,
    ...(row.line ? { line: row.line } : {}),
    pathPrefix: '',
    value: withDefaults(row.value, defaults),
    ...(row.raw ? { raw: row.raw } : {}),
  }));
}

/** `dryRun=true` in the roster's metadata (the key in any case, as Blob storage matches keys). */
function isDryRun(metadata: Record<string, string>): boolean {
  return Object.entries(metadata).some(([key, value]) => key.toLowerCase() === 'dryrun' && value.trim().toLowerCase() === 'true');
}

function describeCounts(counts: Record<string, number>): string {
  return (
    Object.entries(counts)
      .filter(([, count]) => count > 0)
      .map(([outcome, count]) => `${outcome} ${count}`)
      .join(', ') || 'no rows'
  );
}

function metadataDefaults(metadata: Record<string, string>): MetadataDefaults {
  return Object.fromEntries(
    Object.entries(metadata).flatMap(([key, text]) =>
      Object.hasOwn(ROSTER_METADATA_DEFAULTS, key.toLowerCase()) && text ? [[key.toLowerCase(), text]] : [],
    ),
  );
}

/** Fills what a row leaves out from the roster's metadata; a row's own value always wins. */
function withDefaults(row: unknown, defaults: MetadataDefaults): unknown {
  let filled = row;
  for (const [key, text] of Object.entries(defaults)) {
    const { field, value } = ROSTER_METADATA_DEFAULTS[key]!;
    filled = withValueAt(filled, field.split('.'), value(text));
  }
  return filled;
}

/**
 * `target` with `value` at `path` unless something is there already. Names are matched
 * case-insensitively, as the intake reads them; anything but an object along the way is left as
 * it is, for validation to reject.
 */
function withValueAt(target: unknown, [name, ...rest]: string[], value: unknown): unknown {
  if (typeof target !== 'object' || target === null || Array.isArray(target)) return target;
  const object = target as Record<string, unknown>;
  const key = Object.keys(object).find((candidate) => candidate.toLowerCase() === name!.toLowerCase());
  if (rest.length === 0) return key === undefined ? { ...object, [name!]: value } : object;
  return { ...object, [key ?? name!]: withValueAt(key === undefined ? {} : object[key], rest, value) };
}

async function appendRejections(container: ContainerClient, rosterName: string, rejected: readonly RejectedItem[]): Promise<void> {
  const blob = container.getAppendBlobClient(`${RESULTS}${rosterName}-rejected.csv`);
  const header = stringifyForSpreadsheets([['row', 'line', 'path', 'message', 'email', 'displayName', 'submitted']]);
  try {
    await blob.create({ conditions: { ifNoneMatch: '*' }, blobHTTPHeaders: { blobContentType: 'text/csv; charset=utf-8' } });
    await blob.appendBlock(header, Buffer.byteLength(header));
  } catch (error) {
    if (!isConflict(error)) throw error;
  }
  const rows = stringifyForSpreadsheets(
    rejected.flatMap((item) =>
      item.errors.map((error) => [
        item.index + 1,
        item.line ?? '',
        error.path,
        error.message,
        item.submitted?.email ?? '',
        item.submitted?.displayName ?? '',
        item.submitted?.raw ?? '',
      ]),
    ),
  );
  await blob.appendBlock(rows, Buffer.byteLength(rows));
}

/** Copy, then delete the source only if it is still the version we read. */
function isBlobChanged(error: unknown): boolean {
  return isPreconditionFailed(error) || isNotFound(error);
}

function isStorageOutage(error: unknown): boolean {
  // The intake wraps whatever storage said; a refusal (4xx) of something of this roster's, such as its name, is not an outage.
  if (error instanceof Unavailable && error.dependency === 'storage')
    return isStorageOutage(error.cause) || !(error.cause instanceof Error);
  if (error instanceof Unavailable && error.dependency === 'queue') return true;
  return isOutage(error);
}

/** What a roster that cannot be recorded is told: storage's own words when the intake wrapped them. */
function reasonOf(error: unknown): string {
  const cause = error instanceof Unavailable && error.dependency === 'storage' && error.cause instanceof Error ? error.cause : error;
  return (cause as Error).message;
}

async function moveBlob(container: ContainerClient, from: string, to: string, etag: string): Promise<void> {
  const source = container.getBlobClient(from);
  const copy = await container.getBlobClient(to).beginCopyFromURL(source.url, { sourceConditions: { ifMatch: etag } });
  await copy.pollUntilDone();
  await source.delete({ conditions: { ifMatch: etag } });
}
