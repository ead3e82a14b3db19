import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { hostname, networkInterfaces } from 'node:os';
import { HttpRequest, InvocationContext, type HttpResponseInit, type LogHandler, type Timer } from '@azure/functions';
import { CronExpressionParser } from 'cron-parser';
import type {
  FunctionDefinition,
  HttpFunctionDefinition,
  QueueFunctionDefinition,
  TimerFunctionDefinition,
} from '../functions/runtime/defineFunction';
import type { AppDependencies } from '../shared/appDependencies';
import type { StorageAccount } from '../shared/storage';
import { QueueListener, type QueueTriggerSettings } from './queueListener';

/**
 * A local stand-in for the Azure Functions host, for development and tests (production is Azure
 * Functions): serves the app's declared functions with the host's behaviour —
 * HTTP at /api/<route>, queue triggers with host.json's semantics (see queueListener.ts), timers
 * on their NCRONTAB schedules, and `POST /admin/functions/{name}` to run any non-HTTP function now.
 * As under `func start`, authLevel "function" is not enforced locally.
 */

export interface FunctionHostOptions {
  functions: readonly FunctionDefinition[];
  deps: AppDependencies;
  storage: StorageAccount;
  queueTrigger: QueueTriggerSettings;
  port: number;
  /**
   * The address to listen on. Loopback by default: the host holds real Graph credentials when it
   * has them, and checks no function keys, so it must not be reachable from the network by accident.
   * @default '127.0.0.1'
   */
  host?: string;
  logHandler: LogHandler;
  /** Settings for `%NAME%` in timer schedules; default process.env. */
  env?: NodeJS.ProcessEnv;
}

export class PortInUseError extends Error {
  override readonly name = 'PortInUseError';
  constructor(readonly port: number) {
    super(`Port ${port} is already in use: stop what listens there, or choose another port with PORT=<number>.`);
  }
}

const DEFAULT_HOST = '127.0.0.1';
const ROUTE_PREFIX = '/api/';
const ADMIN_PREFIX = '/admin/functions/';

export class LocalFunctionHost {
  private server: Server | undefined;
  private readonly listeners: QueueListener[] = [];
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly running = new Set<Promise<unknown>>();
  private stopping = false;
  private readonly routes: { definition: HttpFunctionDefinition; pattern: RegExp; names: string[] }[];

  constructor(private readonly options: FunctionHostOptions) {
    this.routes = options.functions
      .filter((definition): definition is HttpFunctionDefinition => definition.kind === 'http')
      .map((definition) => ({ definition, ...compileRoute(definition.route) }));
  }

  get url(): string {
    return `http://localhost:${this.port}`;
  }

  private get port(): number {
    const address = this.server?.address();
    return typeof address === 'object' && address ? address.port : this.options.port;
  }

  async start(): Promise<void> {
    const server = createServer((request, response) => {
      this.track(this.serve(request, response));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) =>
        reject(error.code === 'EADDRINUSE' ? new PortInUseError(this.options.port) : error),
      );
      server.listen(this.options.port, this.options.host ?? DEFAULT_HOST, resolve);
    });
    this.server = server;
    for (const definition of this.options.functions) {
      if (definition.kind === 'queue') this.startQueueListener(definition);
      if (definition.kind === 'timer') this.scheduleTimer(definition);
    }
  }

  /** Stops taking requests, messages and timer runs; waits for what is in flight. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const timer of this.timers) clearTimeout(timer);
    const closed = this.server ? new Promise((resolve) => this.server!.close(resolve)) : Promise.resolve();
    this.server?.closeIdleConnections();
    await Promise.all([closed, ...this.listeners.map((listener) => listener.stop()), ...this.running]);
  }

  private track<T>(work: Promise<T>): Promise<T> {
    this.running.add(work);
    void work.finally(() => this.running.delete(work)).catch(() => undefined);
    return work;
  }

  private startQueueListener(definition: QueueFunctionDefinition): void {
    const listener = new QueueListener({
      ...this.options.queueTrigger,
      functionName: definition.name,
      queue: this.options.storage.queueClient(definition.queueName),
      poisonQueue: this.options.storage.queueClient(`${definition.queueName}-poison`),
      handler: definition.handler(this.options.deps),
      logHandler: this.options.logHandler,
    });
    this.listeners.push(listener);
    listener.start();
  }

  private scheduleTimer(definition: TimerFunctionDefinition): void {
    const schedule = resolveSetting(definition.schedule, this.options.env ?? process.env);
    const expression = CronExpressionParser.parse(schedule);
    let last: Date | undefined;
    const next = () => {
      if (this.stopping) return;
      const at = expression.next().toDate();
      const timer = setTimeout(
        async () => {
          const timerInfo: Timer = {
            isPastDue: Date.now() - at.getTime() > 1_000,
            schedule: { adjustForDST: true },
            scheduleStatus: { last: (last ?? at).toISOString(), next: at.toISOString(), lastUpdated: new Date().toISOString() },
          };
          last = at;
          await this.invoke(definition, 'Timer fired', () =>
            definition.handler(this.options.deps)(timerInfo, this.context(definition.name)),
          ).catch(() => undefined);
          next();
        },
        Math.max(0, at.getTime() - Date.now()),
      );
      this.timers.push(timer);
    };
    next();
  }

  private async serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    // DNS rebinding: a web page whose name resolves to 127.0.0.1 reaches us with its own name in Host.
    if (!this.isOwnHost(request.headers.host)) {
      return void writeResponse(
        response,
        problem(
          421,
          'misdirected-request',
          `Host "${request.headers.host ?? ''}" is not this host's name: use http://localhost:${this.port}.`,
        ),
      );
    }
    const url = new URL(request.url ?? '/', `http://localhost:${this.port}`);
    if (url.pathname.startsWith(ADMIN_PREFIX) && request.method === 'POST') return this.runNow(url, request, response);
    if (!url.pathname.startsWith(ROUTE_PREFIX)) return void writeResponse(response, { status: 404 });
    const path = url.pathname.slice(ROUTE_PREFIX.length);
    const matches = this.routes.map((route) => ({ route, match: route.pattern.exec(path) })).filter(({ match }) => match);
    const found = matches.find(({ route }) => route.definition.methods.includes(request.method as never));
    if (!found) return void writeResponse(response, { status: matches.length > 0 ? 405 : 404 });
    const { definition, names } = found.route;
    const params = Object.fromEntries(names.map((name, i) => [name, decodeURIComponent(found.match![i + 1]!)]));
    const body = await readBody(request);
    const httpRequest = new HttpRequest({
      method: request.method ?? 'GET',
      url: url.toString(),
      headers: Object.fromEntries(
        Object.entries(request.headers).map(([key, value]) => [key, Array.isArray(value) ? value.join(', ') : (value ?? '')]),
      ),
      query: Object.fromEntries(url.searchParams.entries()),
      params,
      ...(body.length > 0 ? { body: { bytes: body } } : {}),
    });
    try {
      const result = await this.invoke(definition, 'This function was programmatically called via the host APIs.', () =>
        definition.handler(this.options.deps)(httpRequest, this.context(definition.name)),
      );
      await writeResponse(response, result as HttpResponseInit);
    } catch {
      writeResponse(response, { status: 500 });
    }
  }

  /**
   * Loopback names, the bound address, and when bound to every interface, this machine's own names
   * and addresses; always with our port.
   */
  private isOwnHost(hostHeader: string | undefined): boolean {
    if (!hostHeader) return false;
    const match = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(hostHeader.trim().toLowerCase());
    if (!match || Number(match[2] ?? 80) !== this.port) return false;
    const name = match[1]!.replace(/^\[|\]$/g, '');
    const bound = this.options.host ?? DEFAULT_HOST;
    const own = new Set(['localhost', '127.0.0.1', '::1', bound.toLowerCase()]);
    if (bound === '0.0.0.0' || bound === '::') {
      own.add(hostname().toLowerCase());
      for (const addresses of Object.values(networkInterfaces()))
        for (const address of addresses ?? []) own.add(address.address.toLowerCase());
    }
    return own.has(name);
  }

  /**
   * The Functions host's admin API: run a non-HTTP function now, with `{"input": "..."}` as its
   * trigger. Only application/json: a web page cannot send that cross-origin without a preflight,
   * which this host never grants (CSRF).
   */
  private async runNow(url: URL, request: IncomingMessage, response: ServerResponse): Promise<void> {
    const mediaType = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (mediaType !== 'application/json') {
      return void writeResponse(
        response,
        problem(415, 'unsupported-media-type', 'The admin API takes only Content-Type: application/json.'),
      );
    }
    const name = decodeURIComponent(url.pathname.slice(ADMIN_PREFIX.length));
    const definition = this.options.functions.find((candidate) => candidate.name.toLowerCase() === name.toLowerCase());
    if (!definition || definition.kind === 'http') return void writeResponse(response, { status: 404 });
    let input: unknown;
    try {
      input = (JSON.parse((await readBody(request)).toString('utf8') || '{}') as { input?: unknown }).input;
    } catch {
      return void writeResponse(response, { status: 400, jsonBody: { error: 'The body must be JSON: {"input": "..."}.' } });
    }
    writeResponse(response, { status: 202 });
    const context = this.context(definition.name);
    const run =
      definition.kind === 'timer'
        ? () =>
            definition.handler(this.options.deps)(
              { isPastDue: false, schedule: { adjustForDST: true }, scheduleStatus: { last: '', next: '', lastUpdated: '' } },
              context,
            )
        : () => definition.handler(this.options.deps)(parseInput(input), context);
    await this.invoke(definition, 'This function was programmatically called via the host APIs.', run).catch(() => undefined);
  }

  private async invoke<T>(definition: FunctionDefinition, reason: string, run: () => T | Promise<T>): Promise<T> {
    const started = Date.now();
    const log = this.options.logHandler;
    log('debug', `Executing 'Functions.${definition.name}' (Reason='${reason}')`);
    try {
      const result = await run();
      log('debug', `Executed 'Functions.${definition.name}' (Succeeded, Duration=${Date.now() - started}ms)`);
      return result;
    } catch (error) {
      log('error', `Executed 'Functions.${definition.name}' (Failed, Duration=${Date.now() - started}ms): ${(error as Error).message}`);
      throw error;
    }
  }

  private context(functionName: string): InvocationContext {
    return new InvocationContext({ invocationId: randomUUID(), functionName, logHandler: this.options.logHandler });
  }
}

/** `invitations/{id}` → /^invitations\/([^/]+)$/ with names ['id'] (route constraints such as `{id:int}` ignored). */
function compileRoute(route: string): { pattern: RegExp; names: string[] } {
  const names: string[] = [];
  const source = route
    .replace(/^\/+|\/+$/g, '')
    .split('/')
    .map((segment) => {
      const parameter = /^\{([^}:?]+)(?::[^}]*)?\??\}$/.exec(segment);
      if (parameter) {
        names.push(parameter[1]!);
        return '([^/]+)';
      }
      return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('/');
  return { pattern: new RegExp(`^${source}/?$`, 'i'), names };
}

function problem(status: number, code: string, detail: string): HttpResponseInit {
  return {
    status,
    body: JSON.stringify({ type: `https://github.com/entra-invite-pipeline/problems/${code}`, title: detail, status, detail }),
    headers: { 'content-type': 'application/problem+json; charset=utf-8' },
  };
}

/** Whether an address to listen on is loopback only. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

function resolveSetting(value: string, env: NodeJS.ProcessEnv): string {
  const setting = /^%(.+)%$/.exec(value)?.[1];
  if (!setting) return value;
  const resolved = env[setting];
  if (!resolved) throw new Error(`Setting ${setting} (used by a timer schedule) is not set.`);
  return resolved;
}

function parseInput(input: unknown): unknown {
  if (typeof input !== 'string') return input;
  try {
    return JSON.parse(input);
  } catch {
    return input;
  }
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function writeResponse(response: ServerResponse, result: HttpResponseInit | undefined): Promise<void> {
  const init = result ?? { status: 204 };
  const headers = new Headers(init.headers as Record<string, string> | undefined);
  let body: string | Uint8Array | undefined;
  if (init.jsonBody !== undefined) {
    body = JSON.stringify(init.jsonBody);
    if (!headers.has('content-type')) headers.set('content-type', 'application/json');
  } else if (typeof init.body === 'string' || init.body instanceof Uint8Array) {
    body = init.body;
  } else if (init.body instanceof ArrayBuffer) {
    body = new Uint8Array(init.body);
  }
  response.writeHead(init.status ?? 200, Object.fromEntries(headers.entries()));
  response.end(body);
}
