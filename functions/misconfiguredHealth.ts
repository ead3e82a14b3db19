import { app } from '@azure/functions';
import type { HttpFunctionDefinition } from './runtime/defineFunction';
import { jsonResponse } from './runtime/http';

/**
 * GET /api/health while the settings are wrong (an unresolved Key Vault reference, a secret too
 * short): the only function the app registers then, so that monitoring sees why, with the sentence
 * that names the setting. No trigger runs on a broken configuration, so nobody is failed for it.
 */
export function registerMisconfiguredHealth(problem: string): HttpFunctionDefinition {
  const answer = () => jsonResponse(503, { healthy: false, settings: { state: 'invalid', problem } });
  const definition: HttpFunctionDefinition = {
    kind: 'http',
    name: 'getHealth',
    route: 'health',
    methods: ['GET'],
    authLevel: 'function',
    handler: () => async () => answer(),
  };
  app.http(definition.name, {
    route: definition.route,
    methods: definition.methods,
    authLevel: definition.authLevel,
    handler: async () => answer(),
  });
  return definition;
}
