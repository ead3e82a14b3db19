import { defineConfig } from 'vitest/config';

// Two projects: `unit` needs nothing but Node (no Azurite, no emulator, seconds in all), and
// `integration` runs against one real Azurite and the Graph emulator (test/support/globalSetup.ts).
// `npm test` runs unit first, so a broken rule fails in seconds; a unit test is named *.unit.test.ts.
const common = {
  // The functions register with the local host's stand-in for @azure/functions-core (not test mode).
  setupFiles: ['test/support/functionsTestMode.ts'],
  testTimeout: 30_000,
  hookTimeout: 60_000,
  pool: 'forks' as const,
};

export default defineConfig({
  test: {
    projects: [
      { test: { ...common, name: 'unit', include: ['test/**/*.unit.test.ts'] } },
      {
        test: {
          ...common,
          name: 'integration',
          include: ['test/**/*.test.ts'],
          exclude: ['test/**/*.unit.test.ts'],
          globalSetup: ['test/support/globalSetup.ts'],
        },
      },
    ],
  },
});
