/**
 * Entry point (package.json "main"): the Functions worker loads this file, which registers every
 * function. Settings are checked first, so a missing or malformed one stops start-up with a
 * sentence naming it rather than failing the first invocation: none of the pipeline's functions
 * is registered then, only GET /api/health, which answers 503 with that sentence.
 */
import { loadSettings, SettingsError } from '../shared/settings';
import type { FunctionDefinition } from './runtime/defineFunction';
import { registerMisconfiguredHealth } from './misconfiguredHealth';

function registerFunctions(): FunctionDefinition[] {
  try {
    loadSettings();
  } catch (error) {
    if (!(error instanceof SettingsError)) throw error;
    console.error(`The app does not start its functions: ${error.message}`);
    return [registerMisconfiguredHealth(error.message)];
  }
  // Required only now: requiring the functions registers them.
  return (require('./appFunctions') as typeof import('./appFunctions')).appFunctions;
}

export const appFunctions = registerFunctions();
