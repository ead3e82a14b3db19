import { signBody, SIGNATURE_HEADER, type RejectedItem, type InvitationStatus } from '../shared/core';
import { CLIENT_HEADER } from '../shared/batches';
import type { InvitationPlan, SubmittedItem } from '../shared/intake';

/** The intake API as the CLI calls it (see README "HTTP API"). */
export interface ApiOptions {
  url: string;
  /** Function key, sent as x-functions-key. */
  key?: string;
  /** INTAKE_HMAC_SECRET, to sign each body. */
  hmacSecret?: string;
}

export interface SubmitAnswer {
  batchId: string;
  items: SubmittedItem[];
  rejected: RejectedItem[];
}

export interface BatchCounts {
  total: number;
  counts: Record<InvitationStatus, number>;
}

/** Whether the app is sending (GET /api/health's `sending`, or the answer of PUT /api/pause). */
export interface SendingState {
  state: 'sending' | 'paused';
  kind?: 'tenant' | 'operator';
  reason?: string;
  since?: string;
  by?: string;
  waiting?: number;
}

export class InvitationsApi {
  constructor(private readonly options: ApiOptions) {}

  async submit(batchId: string, invitations: unknown[]): Promise<SubmitAnswer> {
    const response = await this.postInvitations('/api/invitations', { batchId, invitations });
    if (response.status !== 202 && response.status !== 400) throw await apiError(response);
    const answer = (await response.json()) as Partial<SubmitAnswer>;
    if (!answer.items || !answer.rejected) throw await apiError(response);
    return answer as SubmitAnswer;
  }

  /** POST /api/invitations?dryRun=true: what submitting these would do, with nothing written. */
  async plan(invitations: unknown[]): Promise<InvitationPlan> {
    const response = await this.postInvitations('/api/invitations?dryRun=true', { invitations });
    if (response.status !== 200) throw await apiError(response);
    return (await response.json()) as InvitationPlan;
  }

  /** A JSON body to the intake, signed with the first INTAKE_HMAC_SECRET when there is one. */
  private postInvitations(path: string, payload: unknown): Promise<Response> {
    const body = JSON.stringify(payload);
    return this.fetch(path, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        [CLIENT_HEADER]: 'cli',
        ...(this.options.hmacSecret ? { [SIGNATURE_HEADER]: signBody(this.options.hmacSecret.split(',')[0]!.trim(), body) } : {}),
      },
      body,
    });
  }

  async batch(batchId: string): Promise<BatchCounts> {
    const response = await this.fetch(`/api/batches/${encodeURIComponent(batchId)}?pageSize=1`);
    if (response.status !== 200) throw await apiError(response);
    return (await response.json()) as BatchCounts;
  }

  async resultsCsv(batchId: string): Promise<string> {
    const response = await this.fetch(`/api/batches/${encodeURIComponent(batchId)}?format=csv`);
    if (response.status !== 200) throw await apiError(response);
    return response.text();
  }

  /** From /api/health, which answers 503 while paused: both answers carry `sending`. */
  async sending(): Promise<SendingState> {
    const response = await this.fetch('/api/health');
    const body = (await response.json().catch(() => undefined)) as { sending?: SendingState } | undefined;
    if (!body?.sending) throw await apiError(response);
    return body.sending;
  }

  async pause(reason: string): Promise<SendingState> {
    const response = await this.fetch('/api/pause', {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ reason }),
    });
    if (response.status !== 200) throw await apiError(response);
    return { ...((await response.json()) as Omit<SendingState, 'state'>), state: 'paused' };
  }

  async resume(): Promise<void> {
    const response = await this.fetch('/api/pause', { method: 'DELETE' });
    if (response.status !== 200) throw await apiError(response);
  }

  private fetch(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = { ...(init.headers as Record<string, string>), ...(this.options.key ? { 'x-functions-key': this.options.key } : {}) };
    return fetch(`${this.options.url.replace(/\/+$/, '')}${path}`, { ...init, headers }).catch((error: unknown) => {
      throw new Error(
        `Cannot reach ${this.options.url}: ${(error as Error).cause instanceof Error ? ((error as Error).cause as Error).message : (error as Error).message}. Is the function app running (npm start)?`,
      );
    });
  }
}

async function apiError(response: Response): Promise<Error> {
  const text = await response.text().catch(() => '');
  let detail = text;
  try {
    const problem = JSON.parse(text) as { title?: string; detail?: string };
    detail = [problem.title, problem.detail].filter(Boolean).join(': ') || text;
  } catch {
    // not JSON: keep the text
  }
  return new Error(`The function app answered ${response.status}${detail ? `: ${detail}` : ''}`);
}
