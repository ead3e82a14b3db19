import type { TokenCredential } from '@azure/identity';
import { z } from 'zod';
import type { GraphInvitationRequest } from '../invitation';
import { GraphCallError, graphCallErrorFromResponse } from './graphCallError';
import type { GraphCaller, GraphEndpoints } from './graphCaller';

/**
 * One call to Graph's POST /v1.0/invitations with an app-only token. No retries here: the
 * sender decides, because the call is not idempotent (each call issues a new redemption ticket).
 */

// The v1.0 201 body (see ../shared/seeds and the Graph reference); we keep what we record.
const invitationCreatedSchema = z
  .object({
    id: z.string(),
    inviteRedeemUrl: z.string(),
    status: z.string(),
    invitedUser: z.object({ id: z.string() }).loose(),
  })
  .loose();

export interface InvitationCreated {
  invitationId: string;
  invitedUserId: string;
  inviteRedeemUrl: string;
  graphStatus: string;
  graphRequestId?: string;
  /** x-ms-throttle-limit-percentage: Graph sends it above 80% of a limit. */
  throttleLimitPercentage?: number;
}

export class GraphInvitationsClient {
  private credential: TokenCredential;

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

  async createInvitation(request: GraphInvitationRequest): Promise<InvitationCreated> {
    const token = await this.credential.getToken(this.endpoints.scope).catch((error: unknown) => {
      // A token that cannot be had is as good as a 401: the same credential will not get one on retry.
      throw new GraphCallError('unauthorized', 'TokenRequestFailed', `Could not get a token for ${this.endpoints.scope}: ${firstLine(error)}`);
    });
    if (!token) throw new GraphCallError('unauthorized', 'TokenRequestFailed', `No token was issued for ${this.endpoints.scope}.`);
    let response: Response;
    try {
      response = await fetch(this.endpoints.invitationsUrl, {
        method: 'POST',
        headers: { authorization: `Bearer ${token.token}`, 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(request),
      });
    } catch (error) {
      throw new GraphCallError('transient', 'NetworkError', `Graph could not be reached: ${firstLine(error)}`);
    }
    if (response.status !== 201) throw await graphCallErrorFromResponse(response);
    const body = invitationCreatedSchema.parse(await response.json());
    const percentage = Number(response.headers.get('x-ms-throttle-limit-percentage'));
    return {
      invitationId: body.id,
      invitedUserId: body.invitedUser.id,
      inviteRedeemUrl: body.inviteRedeemUrl,
      graphStatus: body.status,
      ...(response.headers.get('request-id') ? { graphRequestId: response.headers.get('request-id')! } : {}),
      ...(percentage > 0 ? { throttleLimitPercentage: percentage } : {}),
    };
  }
}

/** Error text for our own messages: the first line, with the cause fetch hides in `cause`. */
function firstLine(error: unknown): string {
  const message = error instanceof Error ? `${error.message}${error.cause instanceof Error ? ` (${error.cause.message})` : ''}` : String(error);
  return message.split('\n')[0]!.slice(0, 300);
}
