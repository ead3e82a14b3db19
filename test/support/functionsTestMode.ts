/**
 * Vitest setup file: the functions register with the same stand-in for `@azure/functions-core`
 * that the local host uses, as under the Functions host, instead of @azure/functions' "test mode",
 * which skips every registration with a warning on every test file that loads a function.
 */
import { installFunctionsCore } from '../../local/functionsCore';

installFunctionsCore();
