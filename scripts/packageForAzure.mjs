// `npm run package` (azd runs it before it uploads; azure.yaml's `dist` names the folder): stages in
// .deploy/ what Azure builds and runs, and nothing of the development tooling. Azure's remote build
// installs every dependency *and devDependency* of the package.json it is given, then runs
// `npm run build` (Microsoft's "Build and deploy TypeScript apps in Azure Functions"). The repository's
// package.json lists the local Node binary, Azurite, the browser driver and the test runner among
// them; the staged one keeps only what the build compiles with (BUILD_TOOLS), with a lock file cut to
// the packages those and the app's dependencies reach. test/infra/package.unit.test.ts checks both.
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** What `npm run build` (tsc -p tsconfig.build.json) needs besides the app's dependencies. */
export const BUILD_TOOLS = ['typescript', '@types/node', '@types/stream-json'];

/** What the staged folder holds: the build's input, host.json, and the dashboard page read at run time. */
export const STAGED_PATHS = ['host.json', 'tsconfig.json', 'tsconfig.build.json', 'functions', 'shared', 'dashboard'];

/** The manifest Azure builds from: the app's dependencies, the build's tools, and the build script alone. */
export function stagedManifest(manifest) {
  const { devDependencies = {}, scripts = {} } = manifest;
  const missing = BUILD_TOOLS.filter((name) => !(name in devDependencies));
  if (missing.length > 0) throw new Error(`package.json lists no ${missing.join(', ')} among its devDependencies.`);
  return {
    name: manifest.name,
    version: manifest.version,
    private: true,
    description: manifest.description,
    license: manifest.license,
    type: manifest.type,
    main: manifest.main,
    engines: manifest.engines,
    scripts: { build: scripts.build },
    dependencies: manifest.dependencies,
    devDependencies: Object.fromEntries(BUILD_TOOLS.map((name) => [name, devDependencies[name]])),
  };
}

/**
 * The lock file (lockfileVersion 3) cut to what the staged manifest reaches: from its dependencies,
 * each package's dependencies resolved as Node resolves them (the nearest node_modules upwards).
 */
export function stagedLock(lock, manifest) {
  if (lock.lockfileVersion !== 3) throw new Error(`Expected lockfileVersion 3, found ${lock.lockfileVersion}.`);
  const packages = lock.packages;
  const resolve = (name, from) => {
    for (let at = from; ; at = at.includes('/node_modules/') ? at.slice(0, at.lastIndexOf('/node_modules/')) : '') {
      const candidate = `${at ? `${at}/` : ''}node_modules/${name}`;
      if (candidate in packages) return candidate;
      if (at === '') return undefined;
    }
  };
  const reached = new Set();
  const pending = Object.keys({ ...manifest.dependencies, ...manifest.devDependencies }).map((name) => [name, '']);
  while (pending.length > 0) {
    const [name, from] = pending.pop();
    const found = resolve(name, from);
    if (!found) {
      if (from === '') throw new Error(`The lock file has no ${name}: run npm install.`);
      continue; // an optional or peer dependency npm did not install
    }
    if (reached.has(found)) continue;
    reached.add(found);
    const entry = packages[found];
    const next = { ...entry.dependencies, ...entry.optionalDependencies, ...entry.peerDependencies };
    for (const dependency of Object.keys(next)) pending.push([dependency, found]);
  }
  const { name, version, license, engines, dependencies, devDependencies } = manifest;
  const root = { name, version, license, dependencies, devDependencies, engines };
  const kept = Object.keys(packages)
    .filter((key) => reached.has(key))
    .sort();
  return { ...lock, packages: { '': root, ...Object.fromEntries(kept.map((key) => [key, packages[key]])) } };
}

/** Stages the deployment package of the app at `root` in `target` (emptied first). */
export function stagePackage(root, target) {
  rmSync(target, { recursive: true, force: true });
  mkdirSync(target, { recursive: true });
  for (const entry of STAGED_PATHS) cpSync(path.join(root, entry), path.join(target, entry), { recursive: true });
  const manifest = stagedManifest(JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')));
  const lock = stagedLock(JSON.parse(readFileSync(path.join(root, 'package-lock.json'), 'utf8')), manifest);
  writeFileSync(path.join(target, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  writeFileSync(path.join(target, 'package-lock.json'), `${JSON.stringify(lock, null, 2)}\n`);
  return { manifest, lock };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const { lock } = stagePackage(root, path.join(root, '.deploy'));
  console.log(`Staged .deploy/ for Azure's remote build: ${Object.keys(lock.packages).length - 1} packages in its lock file.`);
}
