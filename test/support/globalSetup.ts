import type { TestProject } from 'vitest/node';
import { startAzurite } from '../../local/azurite';

/** One real Azurite for the whole run, on free ports; each test file uses its own queue and table names. */
export default async function setup(project: TestProject) {
  const azurite = await startAzurite();
  project.provide('azuriteConnectionString', azurite.connectionString);
  return async () => {
    await azurite.stop();
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    azuriteConnectionString: string;
  }
}
