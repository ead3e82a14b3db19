import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { sendJson } from './emulatorHttp';
import type { GraphEmulator } from './graphEmulator';

/**
 * The managed identity endpoint that App Service and Azure Functions (Flex Consumption included)
 * give an app: plain HTTP on the loopback, announced by IDENTITY_ENDPOINT, guarded by the secret
 * in IDENTITY_HEADER, API version 2019-08-01. @azure/identity's ManagedIdentityCredential finds it
 * through those two variables and asks for `resource` (its scope without `/.default`), naming a
 * user-assigned identity by `client_id`. Tokens come from the emulator, so Graph accepts them.
 */

export const IDENTITY_API_VERSION = '2019-08-01';

export class IdentityEndpoint {
  /** Tokens handed out: which identity asked for which resource. */
  readonly issued: { clientId: string; resource: string }[] = [];
  /** What the platform would set: the variables ManagedIdentityCredential reads. */
  readonly environment: { IDENTITY_ENDPOINT: string; IDENTITY_HEADER: string };

  private constructor(
    private readonly server: Server,
    port: number,
    readonly identityHeader: string,
  ) {
    this.environment = { IDENTITY_ENDPOINT: `http://127.0.0.1:${port}/msi/token`, IDENTITY_HEADER: identityHeader };
  }

  static async start(emulator: GraphEmulator): Promise<IdentityEndpoint> {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const endpoint = new IdentityEndpoint(server, (server.address() as { port: number }).port, randomBytes(16).toString('hex'));
    server.on('request', (request, response) => endpoint.answer(emulator, request, response));
    return endpoint;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    this.server.close();
    await once(this.server, 'close');
  }

  private answer(emulator: GraphEmulator, request: IncomingMessage, response: ServerResponse): void {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    const fail = (statusCode: number, message: string) =>
      sendJson(response, statusCode, { statusCode, message, correlationId: randomUUID() });
    if (request.method !== 'GET' || url.pathname !== '/msi/token') return fail(404, 'Not found.');
    if (request.headers['x-identity-header'] !== this.identityHeader)
      return fail(401, 'The X-IDENTITY-HEADER header is missing or does not match IDENTITY_HEADER.');
    if (url.searchParams.get('api-version') !== IDENTITY_API_VERSION) return fail(400, `api-version must be ${IDENTITY_API_VERSION}.`);
    const resource = url.searchParams.get('resource');
    if (!resource) return fail(400, 'The resource parameter is required.');
    const clientId = url.searchParams.get('client_id');
    const token = emulator.entra.managedIdentityToken(clientId, resource);
    if (!token) {
      return fail(
        400,
        clientId
          ? 'No User Assigned or Delegated Managed Identity found for specified ClientId/ResourceId/PrincipalId.'
          : 'No system-assigned managed identity is enabled for this app.',
      );
    }
    this.issued.push({ clientId: token.clientId, resource });
    sendJson(response, 200, {
      access_token: token.accessToken,
      expires_on: String(Math.floor(Date.now() / 1000) + token.expiresIn),
      resource,
      token_type: 'Bearer',
      client_id: token.clientId,
    });
  }
}
