import { generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { sendJson, uuidFrom } from './emulatorHttp';
import { decodeJwt, certificateThumbprintS256, publicKeyOfCertificate, signJwt, verifyJwtSignature } from './jwt';

/**
 * The Entra side of the emulator: the tenant's app registrations and managed identities, its
 * OpenID configuration and signing keys, the client-credentials token endpoint (client secret,
 * certificate assertion, federated token), and the validation Graph applies to the tokens it
 * issued (signature, audience, lifetime, revocation).
 */

export const USER_INVITE_ALL = 'User.Invite.All';

export interface EmulatedApp {
  tenantId: string;
  clientId: string;
  clientSecret?: string;
  /** Public certificate (PEM) whose key signs the app's client assertions. */
  clientCertificatePem?: string;
  /** A federated token (workload identity) the app may present as its client assertion. */
  federatedToken?: string;
  /** Application roles granted with admin consent; default User.Invite.All. */
  roles?: string[];
  /** A managed identity (its service principal): it gets tokens from the identity endpoint, never with a secret. */
  managedIdentity?: 'system-assigned' | 'user-assigned';
}

/**
 * Named fault modes of the token endpoint (and of the identity endpoint, which asks it):
 * what Entra does to a caller that our own picture of it would not volunteer.
 */
export interface TokenFaults {
  /** `entra-unavailable`: the next n token requests are answered 503 with Retry-After: 1. */
  unavailableAnswers: number;
  /**
   * `credential-refused`: until this time (epoch ms) every client credential is refused as a wrong
   * secret is (401 invalid_client, AADSTS7000215), as while a rotated secret propagates.
   */
  refuseCredentialsUntil: number;
}

export interface GraphCallerIdentity {
  clientId: string;
  tenantId: string;
  roles: string[];
}

export class EmulatedEntra {
  tokenRequests = 0;
  readonly faults: TokenFaults = { unavailableAnswers: 0, refuseCredentialsUntil: 0 };
  readonly apps = new Map<string, EmulatedApp>();
  private readonly signingKey: { privateKey: KeyObject; publicKey: KeyObject; keyId: string };
  private readonly issuedTokenIds = new Set<string>();
  private readonly revokedTokenIds = new Set<string>();

  constructor(
    /** The emulator's base URL: authority host and Graph endpoint alike. */
    private readonly url: string,
    apps: readonly EmulatedApp[],
    private readonly tokenLifetimeSeconds: () => number,
  ) {
    for (const app of apps) this.apps.set(app.clientId, { roles: [USER_INVITE_ALL], ...app });
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.signingKey = { privateKey, publicKey, keyId: randomUUID() };
  }

  /** Answers `/<tenant>/...` requests of the authority; false when the path is not one of them. */
  answer(method: string, segments: readonly string[], body: string, response: ServerResponse): boolean {
    const tenant = segments[0];
    const rest = segments.slice(1).join('/');
    if (tenant && method === 'GET' && rest === 'v2.0/.well-known/openid-configuration') {
      sendJson(response, 200, {
        issuer: `${this.url}/${tenant}/v2.0`,
        authorization_endpoint: `${this.url}/${tenant}/oauth2/v2.0/authorize`,
        token_endpoint: `${this.url}/${tenant}/oauth2/v2.0/token`,
        jwks_uri: `${this.url}/${tenant}/discovery/v2.0/keys`,
        response_types_supported: ['code', 'id_token', 'token'],
        subject_types_supported: ['pairwise'],
        id_token_signing_alg_values_supported: ['RS256'],
        tenant_region_scope: 'EU',
      });
      return true;
    }
    if (tenant && method === 'GET' && rest === 'discovery/v2.0/keys') {
      sendJson(response, 200, {
        keys: [{ ...this.signingKey.publicKey.export({ format: 'jwk' }), kid: this.signingKey.keyId, use: 'sig', alg: 'RS256' }],
      });
      return true;
    }
    if (tenant && method === 'POST' && rest === 'oauth2/v2.0/token') {
      this.issueToken(tenant, body, response);
      return true;
    }
    return false;
  }

  setRoles(clientId: string, roles: string[]): void {
    const app = this.apps.get(clientId);
    if (!app) throw new Error(`No app ${clientId} in the emulator.`);
    app.roles = roles;
  }

  /** Tokens issued until now are refused (as after a permission change), so clients must fetch new ones. */
  revokeIssuedTokens(): void {
    for (const tokenId of this.issuedTokenIds) this.revokedTokenIds.add(tokenId);
  }

  private issueToken(tenantId: string, body: string, response: ServerResponse): void {
    this.tokenRequests += 1;
    const form = new URLSearchParams(body);
    const clientId = form.get('client_id') ?? '';
    const app = this.apps.get(clientId);
    const tokenEndpoint = `${this.url}/${tenantId}/oauth2/v2.0/token`;
    const fail = (status: number, error: string, code: number, description: string) =>
      sendJson(response, status, {
        error,
        error_description: `AADSTS${code}: ${description} Trace ID: ${randomUUID()} Correlation ID: ${randomUUID()} Timestamp: ${new Date().toISOString()}`,
        error_codes: [code],
        timestamp: new Date().toISOString(),
        trace_id: randomUUID(),
        correlation_id: randomUUID(),
      });
    if (this.faults.unavailableAnswers > 0) {
      this.faults.unavailableAnswers -= 1;
      return sendJson(
        response,
        503,
        {
          error: 'temporarily_unavailable',
          error_description: 'AADSTS90033: A transient error has occurred. Please try again.',
          error_codes: [90033],
        },
        { 'retry-after': '1' },
      );
    }
    if (form.get('grant_type') !== 'client_credentials')
      return fail(400, 'unsupported_grant_type', 70003, 'The app requested an unsupported grant type.');
    const scope = form.get('scope') ?? '';
    const resource = scope
      .split(' ')
      .find((value) => value.endsWith('/.default'))
      ?.slice(0, -'/.default'.length);
    if (!resource)
      return fail(
        400,
        'invalid_scope',
        1002012,
        `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier.`,
      );
    if (!app || app.tenantId !== tenantId) {
      return fail(401, 'invalid_client', 700016, `Application with identifier '${clientId}' was not found in the directory '${tenantId}'.`);
    }
    if (Date.now() < this.faults.refuseCredentialsUntil || !this.clientAuthenticated(app, form, tokenEndpoint)) {
      return fail(
        401,
        'invalid_client',
        7000215,
        'Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.',
      );
    }
    const { accessToken, expiresIn } = this.issueAccessToken(app, resource);
    sendJson(response, 200, { token_type: 'Bearer', expires_in: expiresIn, ext_expires_in: expiresIn, access_token: accessToken });
  }

  /**
   * A token for a managed identity, as the identity endpoint asks for it: the user-assigned
   * identity with `clientId`, or without one the system-assigned identity. Undefined when the app
   * has no such identity.
   */
  managedIdentityToken(
    clientId: string | null,
    resource: string,
  ): { clientId: string; accessToken: string; expiresIn: number } | undefined {
    this.tokenRequests += 1;
    if (Date.now() < this.faults.refuseCredentialsUntil) return undefined;
    const identity = [...this.apps.values()].find((app) =>
      clientId ? app.managedIdentity === 'user-assigned' && app.clientId === clientId : app.managedIdentity === 'system-assigned',
    );
    return identity && { clientId: identity.clientId, ...this.issueAccessToken(identity, resource) };
  }

  /** An app-only access token for `resource`, with the app's granted roles, as Entra signs it. */
  private issueAccessToken(app: EmulatedApp, resource: string): { accessToken: string; expiresIn: number } {
    const now = Math.floor(Date.now() / 1000);
    const expiresIn = this.tokenLifetimeSeconds();
    const tokenId = randomUUID();
    this.issuedTokenIds.add(tokenId);
    const accessToken = signJwt(
      {
        aud: resource,
        iss: `https://sts.windows.net/${app.tenantId}/`,
        iat: now,
        nbf: now,
        exp: now + expiresIn,
        appid: app.clientId,
        azp: app.clientId,
        idtyp: 'app',
        oid: uuidFrom(`sp:${app.clientId}`),
        sub: uuidFrom(`sp:${app.clientId}`),
        tid: app.tenantId,
        roles: app.roles ?? [],
        jti: tokenId,
      },
      this.signingKey.privateKey,
      this.signingKey.keyId,
    );
    return { accessToken, expiresIn };
  }

  private clientAuthenticated(app: EmulatedApp, form: URLSearchParams, tokenEndpoint: string): boolean {
    const secret = form.get('client_secret');
    if (secret !== null) return app.clientSecret !== undefined && secret === app.clientSecret;
    const assertion = form.get('client_assertion');
    if (assertion === null || form.get('client_assertion_type') !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer') return false;
    if (app.federatedToken !== undefined && assertion === app.federatedToken) return true;
    if (!app.clientCertificatePem) return false;
    const jwt = decodeJwt(assertion);
    if (!jwt || !verifyJwtSignature(jwt, publicKeyOfCertificate(app.clientCertificatePem))) return false;
    const thumbprint = jwt.header['x5t#S256'];
    if (thumbprint !== undefined && thumbprint !== certificateThumbprintS256(app.clientCertificatePem)) return false;
    const { aud, iss, sub, exp } = jwt.payload;
    return aud === tokenEndpoint && iss === app.clientId && sub === app.clientId && typeof exp === 'number' && exp > Date.now() / 1000;
  }

  /** The caller a Graph request's bearer token names, or why Graph would refuse it. */
  authenticate(
    authorization: string | undefined,
    audience: string,
  ): { clientId: string; tenantId: string; roles: string[] } | { problem: string; code: string } {
    const token = authorization?.match(/^Bearer\s+(.+)$/i)?.[1];
    if (!token) return { code: 'InvalidAuthenticationToken', problem: 'Access token is empty.' };
    const jwt = decodeJwt(token);
    if (!jwt || !verifyJwtSignature(jwt, this.signingKey.publicKey)) {
      return { code: 'InvalidAuthenticationToken', problem: 'Access token validation failure. Invalid signature.' };
    }
    const { aud, exp, jti, appid, tid, roles } = jwt.payload as Record<string, unknown>;
    if (aud !== audience) return { code: 'InvalidAuthenticationToken', problem: 'Access token validation failure. Invalid audience.' };
    if (typeof exp !== 'number' || exp <= Date.now() / 1000)
      return { code: 'InvalidAuthenticationToken', problem: 'Lifetime validation failed, the token is expired.' };
    if (this.revokedTokenIds.has(String(jti))) return { code: 'InvalidAuthenticationToken', problem: 'Access token has been revoked.' };
    return { clientId: String(appid), tenantId: String(tid), roles: Array.isArray(roles) ? roles.map(String) : [] };
  }
}
