/**
 * Run in a child process (node --require tsx/cjs): loads the app as the Functions worker would,
 * with @azure/functions-core supplied, and prints what @azure/functions registered.
 */
import { installFunctionsCore } from '../../local/functionsCore';

const registrations = installFunctionsCore();
require('../../functions/index');
process.stdout.write(JSON.stringify(registrations));
