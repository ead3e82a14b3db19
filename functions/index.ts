/**
 * Entry point (package.json "main"): the Functions worker loads this file, which registers every
 * function. Settings are checked first, so a missing or malformed one stops start-up with a
 * sentence naming it rather than failing the first invocation.
 */
import { loadSettings } from '../shared/settings';

loadSettings();

export { appFunctions } from './appFunctions';
