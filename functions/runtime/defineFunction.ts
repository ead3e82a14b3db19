import {
  app,
  type HttpHandler,
  type HttpMethod,
  type HttpRequest,
  type InvocationContext,
  type StorageQueueHandler,
  type TimerHandler,
} from '@azure/functions';
import { appDependencies, type AppDependencies } from '../../shared/appDependencies';
import { problemFor, problems } from './problems';
import { problemResponse, refuseSimpleCrossSitePost } from './http';
import { registeredAuthLevel, requireCallerRole, type AuthLevel, type CallerRole } from './callerRoles';

/**
 * One declaration per function, used by both hosts: defining a function registers it with
 * @azure/functions (what `func start` and Azure run) and returns the same declaration, which the
 * local host serves. Handlers receive the process's dependencies; they never create clients.
 */

export type { AuthLevel } from './callerRoles';

export interface HttpFunctionDefinition {
  kind: 'http';
  name: string;
  route: string;
  methods: HttpMethod[];
  authLevel: AuthLevel;
  /** The app role a caller needs with API_CALLER_AUTH=entra (callerRoles.ts); none for the dashboard's page. */
  callerRole?: CallerRole;
  handler: (deps: AppDependencies) => HttpHandler;
}

export function defineHttp(definition: Omit<HttpFunctionDefinition, 'kind'>): HttpFunctionDefinition {
  const declared: HttpFunctionDefinition = {
    kind: 'http',
    ...definition,
    authLevel: registeredAuthLevel(definition.authLevel, definition.callerRole),
    handler: (deps) => answerProblems(definition.handler(deps), deps, definition.callerRole),
  };
  app.http(declared.name, {
    route: declared.route,
    methods: declared.methods,
    authLevel: declared.authLevel,
    handler: async (request, context) => declared.handler(await appDependencies())(request, context),
  });
  return declared;
}

export interface QueueFunctionDefinition {
  kind: 'queue';
  name: string;
  queueName: string;
  /** The app setting (or setting prefix, for identity-based connections) of the storage account. */
  connection: string;
  handler: (deps: AppDependencies) => StorageQueueHandler;
}

export function defineQueue(definition: Omit<QueueFunctionDefinition, 'kind'>): QueueFunctionDefinition {
  const declared: QueueFunctionDefinition = { kind: 'queue', ...definition };
  app.storageQueue(declared.name, {
    queueName: declared.queueName,
    connection: declared.connection,
    handler: async (message, context) => declared.handler(await appDependencies())(message, context),
  });
  return declared;
}

export interface TimerFunctionDefinition {
  kind: 'timer';
  name: string;
  /** NCRONTAB (`{second} {minute} {hour} {day} {month} {day-of-week}`) or `%SETTING%`. */
  schedule: string;
  handler: (deps: AppDependencies) => TimerHandler;
}

export function defineTimer(definition: Omit<TimerFunctionDefinition, 'kind'>): TimerFunctionDefinition {
  const declared: TimerFunctionDefinition = { kind: 'timer', ...definition };
  app.timer(declared.name, {
    schedule: declared.schedule,
    handler: async (timer, context) => declared.handler(await appDependencies())(timer, context),
  });
  return declared;
}

export type FunctionDefinition = HttpFunctionDefinition | QueueFunctionDefinition | TimerFunctionDefinition;

/**
 * What every route checks first (the caller's app role with API_CALLER_AUTH=entra, a POST's
 * Content-Type); then a failure the domain names (or the edge's own RequestProblem) becomes its
 * problem response (problems.ts), anything else is ours: logged, 500.
 */
function answerProblems(handler: HttpHandler, deps: AppDependencies, callerRole: CallerRole | undefined): HttpHandler {
  return async (request: HttpRequest, context: InvocationContext) => {
    try {
      if (callerRole && deps.settings.API_CALLER_AUTH === 'entra') requireCallerRole(request, callerRole);
      refuseSimpleCrossSitePost(request);
      return await handler(request, context);
    } catch (error) {
      const problem = problemFor(error);
      if (problem) return problemResponse(problem);
      context.error(`Unexpected failure in ${context.functionName}: ${(error as Error).message}`);
      return problemResponse(problems.internal());
    }
  };
}
