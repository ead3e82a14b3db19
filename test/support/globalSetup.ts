import type { TestProject } from 'vitest/node';
import { localCertificateFolder } from '../../local/appRoot';
import { startAzurite } from '../../local/azurite';
import { ensureLocalCertificate } from '../../local/graphEmulator/localCertificate';

/**
 * One real Azurite for the whole run, on free ports; each test file uses its own queue and table
 * names. The local certificate authority is made here, before the test workers start, because
 * Node reads NODE_EXTRA_CA_CERTS only at process start: the workers inherit it.
 */
export default async function setup(project: TestProject) {
  const certificate = await ensureLocalCertificate(localCertificateFolder());
  process.env.NODE_EXTRA_CA_CERTS = certificate.caCertificatePath;
  const azurite = await startAzurite();
  project.provide('azuriteConnectionString', azurite.connectionString);
  project.provide('localCertificateFolder', localCertificateFolder());
  return async () => {
    await azurite.stop();
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    azuriteConnectionString: string;
    localCertificateFolder: string;
  }
}
