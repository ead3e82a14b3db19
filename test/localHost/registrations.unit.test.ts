import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { appFunctions } from '../../functions/appFunctions';
import type { FunctionDefinition } from '../../functions/runtime/defineFunction';
import type { CoreRegistration } from '../../local/functionsCore';
import { registerMisconfiguredHealth } from '../../functions/misconfiguredHealth';
import { invokeHttp } from '../support/harness';

/** The trigger of a function as the Functions host sees it. */
function triggerOfRegistration(registration: CoreRegistration) {
  const trigger = Object.values(registration.bindings).find((binding) => binding.direction === 'in' && /Trigger$/.test(binding.type))!;
  const { type, route, methods, authLevel, queueName, connection, schedule } = trigger;
  return Object.fromEntries(
    Object.entries({ name: registration.name, type, route, methods, authLevel, queueName, connection, schedule }).filter(
      ([, v]) => v !== undefined,
    ),
  );
}

function triggerOfDefinition(definition: FunctionDefinition) {
  switch (definition.kind) {
    case 'http':
      return {
        name: definition.name,
        type: 'httpTrigger',
        route: definition.route,
        methods: definition.methods,
        authLevel: definition.authLevel,
      };
    case 'queue':
      return { name: definition.name, type: 'queueTrigger', queueName: definition.queueName, connection: definition.connection };
    case 'timer':
      return { name: definition.name, type: 'timerTrigger', schedule: definition.schedule };
  }
}

describe('the local host serves what the Functions host registers', () => {
  it('has the same functions, triggers, routes, methods, auth levels, queues, connections and schedules', () => {
    const root = path.join(__dirname, '..', '..');
    const output = execFileSync(process.execPath, ['--require', 'tsx/cjs', path.join(root, 'test', 'support', 'captureRegistrations.ts')], {
      cwd: root,
      env: { ...process.env, AzureWebJobsStorage: 'UseDevelopmentStorage=true' },
      encoding: 'utf8',
    });
    const registered = (JSON.parse(output) as CoreRegistration[]).map(triggerOfRegistration);
    expect(registered.length).toBeGreaterThanOrEqual(6);
    expect(registered).toEqual(appFunctions.map(triggerOfDefinition));
  });

  it('registers only GET /api/health, answering 503 with the sentence, when a setting is an unresolved Key Vault reference', async () => {
    const root = path.join(__dirname, '..', '..');
    const run = spawnSync(process.execPath, ['--require', 'tsx/cjs', path.join(root, 'test', 'support', 'captureRegistrations.ts')], {
      cwd: root,
      env: {
        ...process.env,
        AzureWebJobsStorage: 'UseDevelopmentStorage=true',
        INTAKE_HMAC_SECRET: '@Microsoft.KeyVault(VaultName=kv-invite-abc;SecretName=intake-hmac-secret)',
      },
      encoding: 'utf8',
    });
    const registered = (JSON.parse(run.stdout) as CoreRegistration[]).map(triggerOfRegistration);
    expect(registered).toEqual([{ name: 'getHealth', type: 'httpTrigger', route: 'health', methods: ['GET'], authLevel: 'function' }]);
    expect(run.stderr).toContain('Setting INTAKE_HMAC_SECRET is an unresolved Key Vault reference');

    const health = registerMisconfiguredHealth('Setting INTAKE_HMAC_SECRET is an unresolved Key Vault reference.');
    const response = await invokeHttp(health, undefined as never, { path: '/api/health' });
    expect(response.status).toBe(503);
    expect(response.json).toEqual({
      healthy: false,
      settings: { state: 'invalid', problem: 'Setting INTAKE_HMAC_SECRET is an unresolved Key Vault reference.' },
    });
  });
});
