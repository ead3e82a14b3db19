import type { AccessToken, TokenCredential } from '@azure/identity';
import { z } from 'zod';
import type { GraphInvitationRequest } from '../core';
import { fetchGraph, graphCallErrorFromResponse, tokenRequestError } from './graphCallError';
import type { GraphCaller, GraphEndpoints } from './graphCaller';
import type { Guest } from './graphDirectoryClient';

/**
 * One call to Graph's POST /v1.0/invitations with an app-only token. No retries here: the
 * sender decides, because the call is not idempotent (each call issues a new redemption ticket).
 */

// The v1.0 201 body (see the Graph reference, "Create invitation"); we keep what we record.
const invitationCreatedSchema = z
  .object({
    id: z.string(),
    inviteRedeemUrl: z.string(),
    status: z.string(),
    invitedUser: z.object({ id: z.string() }).loose(),
  })
  .loose();

export interface InvitationCreated {
  invitationId?: string;
  invitedUserId?: string;
  inviteRedeemUrl?: string;
  graphStatus?: string;
  graphRequestId?: string;
  /**
   * Graph answered 201 (the invitation exists) but its body could not be read: the connection
   * dropped, or the body was not what Graph documents. What Graph created is unknown to us.
   */
  detailsMissing?: true;
  /** No call was made: a lookup found the guest an earlier call created (guestLookup.ts). */
  foundByLookup?: true;
  /** With foundByLookup: the user found, whose type and creation time say whether it is ours. */
  foundUser?: Guest;
  /** x-ms-throttle-limit-percentage: Graph sends it above 80% of a limit. */
  throttleLimitPercentage?: number;
}

export class GraphInvitationsClient {
  private credential: TokenCredential;
  /** The token request under way for `credential`, shared by every call that needs one meanwhile. */
  private tokenInFlight: { credential: TokenCredential; token: Promise<AccessToken> } | undefined;

  constructor(
    private readonly endpoints: GraphEndpoints,
    private readonly caller: GraphCaller,
  ) {
    this.credential = caller.createCredential();
  }

  /** Replaces the credential, so the next call gets a token issued now (after a 401). */
  refreshCredential(): void {
    this.credential = this.caller.createCredential();
  }

  /**
   * A token from a new credential (nothing cached), within `timeoutMs`: how the circuit probes
   * whether the app can sign in again. Throws a classified GraphCallError.
   */
  async probeToken(timeoutMs: number): Promise<AccessToken> {
    return this.getToken(this.caller.createCredential(), timeoutMs);
  }

  /**
   * Calls Graph once. Every failure before Graph's answer throws a classified GraphCallError; once
   * Graph has answered 201 this never throws: the invitation exists, and nothing after that point
   * may lead to a second call (see InvitationCreated.detailsMissing).
   */
  async createInvitation(request: GraphInvitationRequest, timeoutMs: number, token?: AccessToken): Promise<InvitationCreated> {
    const deadline = Date.now() + timeoutMs;
    token ??= await this.token(timeoutMs);
    const response = await fetchGraph(
      this.endpoints.invitationsUrl,
      {
        method: 'POST',
        headers: { authorization: `Bearer ${token.token}`, 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(request),
      },
      deadline - Date.now(),
    );
    if (response.status !== 201) throw await graphCallErrorFromResponse(response);

    const graphRequestId = response.headers.get('request-id') ?? undefined;
    const percentage = Number(response.headers.get('x-ms-throttle-limit-percentage'));
    const known = { ...(graphRequestId ? { graphRequestId } : {}), ...(percentage > 0 ? { throttleLimitPercentage: percentage } : {}) };
    const body = await response.json().then(
      (json: unknown) => invitationCreatedSchema.safeParse(json),
      () => undefined,
    );
    if (!body?.success) return { ...known, detailsMissing: true };
    return {
      invitationId: body.data.id,
      invitedUserId: body.data.invitedUser.id,
      inviteRedeemUrl: body.data.inviteRedeemUrl,
      graphStatus: body.data.status,
      ...known,
    };
  }

  /**
   * A token for the next call, within `timeoutMs`; throws a classified GraphCallError (stage token).
   * Concurrent invocations of a cold process would each ask Entra for a token (MSAL's cache fills
   * only once one is issued): they share one request instead, each waiting at most its own time.
   */
  async token(timeoutMs: number): Promise<AccessToken> {
    if (this.tokenInFlight?.credential !== this.credential) {
      const entry = { credential: this.credential, token: this.issuedToken(this.credential) };
      this.tokenInFlight = entry;
      void entry.token
        .catch(() => undefined)
        .finally(() => {
          if (this.tokenInFlight === entry) this.tokenInFlight = undefined;
        });
    }
    return this.withinTime(this.tokenInFlight!.token, timeoutMs);
  }

  /**
   * @azure/identity's client credentials do not honour an abort signal, so the wait is bounded
   * here: a token request that outlives the call's time is abandoned (and counted transient).
   */
  private async getToken(credential: TokenCredential, timeoutMs: number): Promise<AccessToken> {
    return this.withinTime(this.issuedToken(credential), timeoutMs);
  }

  private async issuedToken(credential: TokenCredential): Promise<AccessToken> {
    const issued = await credential.getToken(this.endpoints.scope);
    if (!issued) throw new Error('No token was issued.');
    return issued;
  }

  private async withinTime(token: Promise<AccessToken>, timeoutMs: number): Promise<AccessToken> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`The token endpoint did not answer within ${Math.ceil(timeoutMs)} ms.`)), timeoutMs);
    });
    try {
      return await Promise.race([token, timeout]);
    } catch (error) {
      throw tokenRequestError(error, this.endpoints.scope);
    } finally {
      clearTimeout(timer);
    }
  }
}
