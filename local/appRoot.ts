import { existsSync } from 'node:fs';
import path from 'node:path';

/** The folder with host.json, whether we run from the sources (tsx) or from dist/. */
export function appRoot(): string {
  let folder = __dirname;
  while (!existsSync(path.join(folder, 'host.json'))) {
    const parent = path.dirname(folder);
    if (parent === folder) throw new Error(`No host.json above ${__dirname}.`);
    folder = parent;
  }
  return folder;
}

/** Where local certificates live (gitignored): made once, trusted through NODE_EXTRA_CA_CERTS. */
export function localCertificateFolder(): string {
  return path.join(appRoot(), '.local', 'certs');
}
