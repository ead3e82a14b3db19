import { tenantRefusalOf, type GraphCallError, type TenantRefusal } from './graphCallError';
import { isNotFound, isPreconditionFailed, type PartitionRows } from '../storage';

/**
 * A pause of all sending to Graph's /invitations, shared by every instance through the app's table
 * (PartitionKey `pause`): nobody is failed for it, people stay Queued, and the worker hands their
 * messages back until it ends.
 * - **tenant** (RowKey `tenant`): Graph refused an invitation for a reason about the tenant
 *   (graphCallError.ts, TENANT_REFUSALS). Every further call would be refused too, and Entra counts
 *   each as one more failed attempt. One probe invitation every TENANT_PAUSE_PROBE_MINUTES checks
 *   whether it is over, and a probe that Graph accepts ends the pause by itself.
 * - **operator** (RowKey `operator`): PUT /api/pause (a wrong roster uploaded, a change freeze).
 *   No probe; DELETE /api/pause ends it, and a tenant pause with it.
 */

export interface PauseState {
  kind: 'tenant' | 'operator';
  /** What stopped sending, in words an operator can act on. */
  reason: string;
  since: string;
  /** operator: who paused (their Entra identity, or "the admin key"). */
  by?: string;
  /** tenant: which refusal, with Graph's code, the first refused call's request-id and time. */
  refusal?: TenantRefusal;
  code?: string;
  firstRequestId?: string;
  firstRefusedAt?: string;
  tenantId?: string;
  /** tenant: when the next probe invitation may go. */
  nextProbeAt?: string;
}

type PauseRow = Omit<PauseState, 'kind'>;

// A pause read from the table holds for this long in each process: one read per instance every few
// seconds, while the instance that met the refusal knows at once.
const DEFAULT_CACHE_MS = 2_000;
// How long a paused person's message is handed back for: a quarter of the pause's age, within these.
const MIN_RECHECK_MS = 5_000;
const MAX_RECHECK_MS = 15 * 60_000;

export interface SendingPauseOptions {
  /** TENANT_PAUSE_PROBE_MINUTES, in ms. */
  probeIntervalMs: number;
  /** GRAPH_TENANT_ID, for the support request's words. */
  tenantId?: string;
  /** Told when sending pauses or resumes (the event to NOTIFY_URL). Best effort. */
  onChange?: (change: 'paused' | 'resumed', state: PauseState) => Promise<unknown>;
  /** @default 2_000 */
  cacheMs?: number;
}

export class SendingPause {
  private cached: { at: number; state: PauseState | undefined } | undefined;

  constructor(
    /** The `pause` rows (storage/tableLayout.ts). */
    private readonly rows: PartitionRows,
    private readonly options: SendingPauseOptions,
  ) {}

  /** The pause this process knows of now, without asking storage: checked right before each call. */
  get known(): PauseState | undefined {
    return this.cached?.state;
  }

  /** The pause in force (the operator's first), read through a short cache. */
  async current(): Promise<PauseState | undefined> {
    if (this.cached && Date.now() - this.cached.at < (this.options.cacheMs ?? DEFAULT_CACHE_MS)) return this.cached.state;
    const [operator, tenant] = await Promise.all([this.read('operator'), this.read('tenant')]);
    const state = operator ?? tenant;
    this.cached = { at: Date.now(), state };
    return state;
  }

  /** How long a person's message waits before it is looked at again while `state` holds. */
  recheckMs(state: PauseState): number {
    const age = Date.now() - Date.parse(state.since);
    const wait = Math.min(MAX_RECHECK_MS, Math.max(MIN_RECHECK_MS, age / 4));
    if (state.kind !== 'tenant' || !state.nextProbeAt) return wait;
    return Math.max(1_000, Math.min(wait, Date.parse(state.nextProbeAt) - Date.now() + 500));
  }

  /**
   * Graph refused an invitation for a reason about the tenant: pause (or, for a refused probe,
   * stay paused until the next probe). The first refusal's request-id and time are kept.
   */
  async refusedByTenant(error: GraphCallError): Promise<PauseState> {
    const refusal = tenantRefusalOf(error.code, error.message) ?? 'abuseBlock';
    const now = new Date();
    const nextProbeAt = new Date(now.getTime() + this.options.probeIntervalMs).toISOString();
    const existing = await this.read('tenant');
    const state: PauseState = existing
      ? { ...existing, nextProbeAt }
      : {
          kind: 'tenant',
          refusal,
          code: error.code,
          reason: reasonFor(refusal, error, now.toISOString(), this.options.tenantId),
          since: now.toISOString(),
          firstRefusedAt: now.toISOString(),
          nextProbeAt,
          ...(error.graphRequestId ? { firstRequestId: error.graphRequestId } : {}),
          ...(this.options.tenantId ? { tenantId: this.options.tenantId } : {}),
        };
    // Known here at once: the calls behind this one never go.
    this.cached = { at: Date.now(), state: this.cached?.state?.kind === 'operator' ? this.cached.state : state };
    await this.rows.upsert(state.kind, fieldsOf(state), 'Merge');
    if (!existing) await this.tell('paused', state);
    return state;
  }

  /** Whether this caller sends the probe now: the first to move nextProbeAt forward wins it. */
  async takeProbe(): Promise<boolean> {
    const row = await this.readRow('tenant');
    if (!row || Date.parse(row.state.nextProbeAt ?? '') > Date.now()) return false;
    const nextProbeAt = new Date(Date.now() + this.options.probeIntervalMs).toISOString();
    try {
      await this.rows.update('tenant', fieldsOf({ ...row.state, nextProbeAt }), 'Replace', row.etag);
      return true;
    } catch (error) {
      if (isPreconditionFailed(error) || isNotFound(error)) return false;
      throw error;
    }
  }

  /** A probe went through: the tenant pause is over. */
  async probeAccepted(): Promise<void> {
    const tenant = await this.read('tenant');
    if (!tenant) return;
    await this.remove('tenant');
    this.cached = undefined;
    await this.tell('resumed', tenant);
  }

  /** PUT /api/pause: nothing is sent until an operator resumes. */
  async pauseByOperator(reason: string, by: string): Promise<PauseState> {
    const existing = await this.read('operator');
    const state: PauseState = { kind: 'operator', reason, by, since: existing?.since ?? new Date().toISOString() };
    await this.rows.upsert(state.kind, fieldsOf(state), 'Replace');
    this.cached = { at: Date.now(), state };
    if (!existing) await this.tell('paused', state);
    return state;
  }

  /** DELETE /api/pause: resumes, after an operator's pause or a tenant pause alike (without waiting for the probe). */
  async resumeByOperator(): Promise<PauseState | undefined> {
    const [operator, tenant] = await Promise.all([this.read('operator'), this.read('tenant')]);
    await Promise.all([this.remove('operator'), this.remove('tenant')]);
    this.cached = undefined;
    const ended = operator ?? tenant;
    if (ended) await this.tell('resumed', ended);
    return ended;
  }

  private async tell(change: 'paused' | 'resumed', state: PauseState): Promise<void> {
    await this.options.onChange?.(change, state).catch(() => undefined);
  }

  private async read(kind: PauseState['kind']): Promise<PauseState | undefined> {
    return (await this.readRow(kind))?.state;
  }

  private async readRow(kind: PauseState['kind']): Promise<{ state: PauseState; etag: string } | undefined> {
    const row = await this.rows.find<PauseRow>(kind);
    if (!row) return undefined;
    const { partitionKey: _p, rowKey: _r, etag, timestamp: _t, ...fields } = row;
    return { state: { ...(fields as Omit<PauseState, 'kind'>), kind }, etag };
  }

  private async remove(kind: PauseState['kind']): Promise<void> {
    try {
      await this.rows.delete(kind);
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }
}

/** The row's fields: the state without its kind (the row key) and without what is undefined. */
function fieldsOf({ kind: _kind, ...fields }: PauseState): PauseRow {
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined)) as PauseRow;
}

/** What the refusal means and what ends it, for the health answer and the event. */
function reasonFor(refusal: TenantRefusal, error: GraphCallError, at: string, tenantId: string | undefined): string {
  switch (refusal) {
    case 'abuseBlock':
      return (
        "Microsoft Entra has blocked this tenant's invitations for suspicious activity. Only Microsoft support can lift the block: " +
        `open a support request with the first refused request-id ${error.graphRequestId ?? '(none given)'}, its time ${at}` +
        `${tenantId ? ` and the tenant id ${tenantId}` : ' and your tenant id'}. Nobody was failed; sending resumes when a probe is accepted, or with DELETE /api/pause.`
      );
    case 'invitesNotAllowed':
      return "The tenant's external collaboration settings do not let this app invite guests (Guest invite settings, authorizationPolicy allowInvitesFrom): an admin allows it, then sending resumes with the next probe or DELETE /api/pause. Nobody was failed.";
    case 'directoryFull':
      return "The directory's object quota is used up: delete unused objects or ask Microsoft support to raise the quota, then sending resumes with the next probe or DELETE /api/pause. Nobody was failed.";
  }
}
