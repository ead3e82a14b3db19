import Module from 'node:module';

/**
 * Stands in for `@azure/functions-core`, the module the Functions worker provides to
 * @azure/functions. With it, `app.http(...)`/`app.storageQueue(...)`/`app.timer(...)` register
 * exactly as under the real host (instead of @azure/functions' "test mode", which skips them with
 * a warning), and what they register is captured: the local host's proof that it serves what
 * Azure would. Install it before the first function is registered.
 */

export interface CoreBinding {
  type: string;
  direction: string;
  [option: string]: unknown;
}

export interface CoreRegistration {
  name: string;
  bindings: Record<string, CoreBinding>;
}

const registrations: CoreRegistration[] = [];

const functionsCore = {
  version: 'local',
  hostVersion: 'local',
  setProgrammingModel: () => undefined,
  getProgrammingModel: () => undefined,
  registerFunction: (metadata: CoreRegistration) => {
    registrations.push(metadata);
    return { dispose: () => undefined };
  },
  registerHook: () => ({ dispose: () => undefined }),
  log: () => undefined,
};

let installed = false;

export function installFunctionsCore(): CoreRegistration[] {
  if (installed) return registrations;
  installed = true;
  const moduleApi = Module as unknown as {
    _resolveFilename: (request: string, ...rest: unknown[]) => string;
    _cache: Record<string, unknown>;
  };
  const resolve = moduleApi._resolveFilename;
  const key = '@azure/functions-core#local';
  moduleApi._resolveFilename = function (request: string, ...rest: unknown[]) {
    return request === '@azure/functions-core' ? key : resolve.call(this, request, ...rest);
  };
  moduleApi._cache[key] = { id: key, filename: key, loaded: true, exports: functionsCore };
  return registrations;
}
