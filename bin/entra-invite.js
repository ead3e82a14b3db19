#!/usr/bin/env node
// `npx entra-invite`: the command-line client of the intake API (cli/main.ts), run from its
// TypeScript sources through tsx, a dependency of the project.
require('tsx/cjs');
require('../cli/main.ts');
