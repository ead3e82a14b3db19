import { once } from 'node:events';
import { createServer, request as forward, type IncomingMessage, type Server } from 'node:http';
import { inject } from 'vitest';
import { createAppDependencies, type AppDependencies } from '../../shared/appDependencies';
import { loadSettings } from '../../shared/settings';
import { uniqueResourceNames } from './harness';

/**
 * A fault injector between the app and one of Azurite's endpoints (tables by default, or queues),
 * playing what Azure Storage does that Azurite does not: refuse an entity it finds too large (400),
 * or go away part-way through a request's writes (503), or fail a few transactions in a row (503),
 * or refuse one queue for a while (503). Everything else is forwarded to the real Azurite unchanged.
 */

export interface StorageFaults {
  /** Requests whose body contains this text are answered 400 PropertyValueTooLarge, as Azure answers an oversized property. */
  refuseBodiesContaining?: string;
  /** After this many more forwarded requests, every request is answered 503 (an outage part-way through). */
  failAfterRequests?: number;
  /** The next this many entity-group transactions ($batch) are answered 503, the other requests forwarded. */
  failTransactions?: number;
  /** Requests whose path contains this text (a queue's name) are refused, 403 AuthorizationFailure (a firewall rule, a revoked role), the others forwarded. */
  refusePathsContaining?: string;
}

export type StorageEndpoint = 'TableEndpoint' | 'QueueEndpoint';

export class StorageFaultProxy {
  faults: StorageFaults = {};
  private forwarded = 0;

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly target: URL,
    private readonly endpoint: StorageEndpoint,
  ) {}

  static async start(targetEndpoint: string, endpoint: StorageEndpoint = 'TableEndpoint'): Promise<StorageFaultProxy> {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const proxy = new StorageFaultProxy(server, (server.address() as { port: number }).port, new URL(targetEndpoint), endpoint);
    server.on('request', (request, response) => {
      void proxy.answer(request).then(({ status, headers, body }) => {
        response.writeHead(status, headers);
        response.end(body);
      });
    });
    return proxy;
  }

  /** The connection string with this proxy's endpoint (TableEndpoint or QueueEndpoint) pointed at it. */
  connectionString(azuriteConnectionString: string): string {
    const [host] = /^http:\/\/[^/;]+/.exec(this.target.href)!;
    return azuriteConnectionString.replace(`${this.endpoint}=${host}`, `${this.endpoint}=http://127.0.0.1:${this.port}`);
  }

  configure(faults: StorageFaults): void {
    this.faults = faults;
    this.forwarded = 0;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    this.server.close();
    await once(this.server, 'close');
  }

  private async answer(request: IncomingMessage): Promise<{ status: number; headers: Record<string, string | string[]>; body: Buffer }> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const { refuseBodiesContaining, failAfterRequests, failTransactions, refusePathsContaining } = this.faults;
    if (refusePathsContaining && request.url?.includes(refusePathsContaining)) {
      return storageError(403, 'AuthorizationFailure', 'This request is not authorized to perform this operation.');
    }
    if (failAfterRequests !== undefined && this.forwarded >= failAfterRequests) {
      return storageError(503, 'ServerBusy', 'The server is currently unable to receive requests. Please retry your request.');
    }
    if (failTransactions && request.url?.includes('$batch')) {
      this.faults.failTransactions = failTransactions - 1;
      return storageError(503, 'ServerBusy', 'The server is currently unable to receive requests. Please retry your request.');
    }
    if (refuseBodiesContaining && body.includes(refuseBodiesContaining)) {
      return storageError(400, 'PropertyValueTooLarge', 'The property value exceeds the maximum allowed size (64KB).');
    }
    this.forwarded += 1;
    return new Promise((resolve, reject) => {
      const upstream = forward(
        { host: this.target.hostname, port: this.target.port, method: request.method, path: request.url, headers: request.headers },
        async (response) => {
          const parts: Buffer[] = [];
          for await (const part of response) parts.push(part as Buffer);
          resolve({
            status: response.statusCode ?? 502,
            headers: response.headers as Record<string, string | string[]>,
            body: Buffer.concat(parts),
          });
        },
      );
      upstream.on('error', reject);
      upstream.end(body);
    });
  }
}

/** The app's dependencies on the run's Azurite (fresh names), their table traffic through a fault proxy. */
export async function dependenciesBehindFaultProxy(prefix: string): Promise<{ proxy: StorageFaultProxy; deps: AppDependencies }> {
  const connectionString = inject('azuriteConnectionString');
  const proxy = await StorageFaultProxy.start(/TableEndpoint=([^;]+)/.exec(connectionString)![1]!);
  const deps = await createAppDependencies(
    loadSettings({ AzureWebJobsStorage: proxy.connectionString(connectionString) }),
    uniqueResourceNames(prefix),
  );
  return { proxy, deps };
}

function storageError(status: number, code: string, message: string) {
  const body = Buffer.from(JSON.stringify({ 'odata.error': { code, message: { lang: 'en-US', value: message } } }));
  return { status, headers: { 'content-type': 'application/json;odata=minimalmetadata', 'x-ms-error-code': code }, body };
}
