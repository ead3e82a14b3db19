import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUILD_TOOLS, STAGED_PATHS, stagedLock, stagedManifest } from '../../scripts/packageForAzure.mjs';

/**
 * What azd uploads for a remote build: the repository's files less what .funcignore names (gitignore
 * rules: a pattern without a slash matches a file or folder of that name anywhere, one with a slash
 * a path from the root). The platform then installs the dependencies and builds.
 */
const ROOT = path.join(__dirname, '..', '..');

function funcignorePatterns(): RegExp[] {
  return readFileSync(path.join(ROOT, '.funcignore'), 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((pattern) => {
      const glob = pattern
        .replace(/\/+$/, '')
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '[^/]*')
        .replace(/\?/g, '[^/]');
      return pattern.includes('/') ? new RegExp(`^${glob}(/|$)`) : new RegExp(`(^|/)${glob}(/|$)`);
    });
}

function packaged(files: readonly string[]): string[] {
  const patterns = funcignorePatterns();
  return files.filter((file) => !patterns.some((pattern) => pattern.test(file)));
}

describe('the deployment package (.funcignore, azure.yaml)', () => {
  const tracked = execFileSync('git', ['ls-files'], { cwd: ROOT, encoding: 'utf8' }).split('\n').filter(Boolean);
  // What a developer's working copy holds besides: installed packages and build output.
  const files = [
    ...tracked,
    'node_modules/typescript/package.json',
    'node_modules/vitest/index.js',
    'node_modules/@azure/functions/package.json',
    'dist/functions/index.js',
  ];
  const inPackage = packaged(files);

  it('asks azd for a remote build', () => {
    expect(readFileSync(path.join(ROOT, 'azure.yaml'), 'utf8')).toMatch(/^\s+remoteBuild: true$/m);
  });

  it('carries no node_modules at all, so never a devDependency', () => {
    expect(inPackage.filter((file) => file.startsWith('node_modules/'))).toEqual([]);
    const devDependencies = Object.keys(
      JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).devDependencies as Record<string, string>,
    );
    expect(inPackage.filter((file) => devDependencies.some((name) => file.includes(`node_modules/${name}/`)))).toEqual([]);
  });

  it('carries what the remote build needs: the sources, package.json and its lock, the tsconfig files, host.json, the dashboard page', () => {
    for (const needed of [
      'package.json',
      'package-lock.json',
      'tsconfig.json',
      'tsconfig.build.json',
      'host.json',
      'functions/index.ts',
      'shared/settings.ts',
      // Read at run time (not compiled): GET /api/dashboard serves them.
      'dashboard/index.html',
      'dashboard/dashboard.css',
      'dashboard/dashboard.js',
    ]) {
      expect(inPackage, needed).toContain(needed);
    }
  });

  it('leaves out tests, benchmarks, docs, local data and the development tooling (local host, emulator, Azurite launcher)', () => {
    expect(inPackage.filter((file) => /^(test|bench|docs|examples|infra|scripts|local|\.ci)\//.test(file))).toEqual([]);
    expect(inPackage).not.toContain('local.settings.sample.json');
  });

  it('compiles only what it deploys (functions/, shared/, the dashboard page), with no devDependency but the compiler and its types', () => {
    const inputs = execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--listFilesOnly'], {
      cwd: ROOT,
      encoding: 'utf8',
    })
      .split('\n')
      .filter(Boolean)
      .map((file) => path.relative(ROOT, file).split(path.sep).join('/'));
    const ours = inputs.filter((file) => !file.startsWith('node_modules/'));
    expect(ours.length).toBeGreaterThan(50);
    expect(ours.filter((file) => !/^(functions|shared|dashboard)\//.test(file))).toEqual([]);
    for (const file of ours) expect(inPackage, file).toContain(file);
    const devDependencies = Object.keys(
      JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).devDependencies as Record<string, string>,
    );
    const packagesUsed = new Set(inputs.map((file) => /^node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(file)?.[1]).filter(Boolean));
    expect(devDependencies.filter((name) => packagesUsed.has(name)).sort()).toEqual(['@types/node', '@types/stream-json', 'typescript']);
    // ...which are exactly the build tools the staged package keeps (scripts/packageForAzure.mjs).
    expect([...BUILD_TOOLS].sort()).toEqual(['@types/node', '@types/stream-json', 'typescript']);
    // And the staged folder holds every file the build compiles.
    for (const file of ours)
      expect(
        STAGED_PATHS.some((staged) => file === staged || file.startsWith(`${staged}/`)),
        file,
      ).toBe(true);
  });
});

describe('the staged package azd uploads (npm run package, azure.yaml dist: .deploy)', () => {
  const manifest = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  const lock = JSON.parse(readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8'));
  const staged = stagedManifest(manifest);
  const stagedPackages = Object.keys(stagedLock(lock, staged).packages);

  it('is the folder azd uploads, built remotely', () => {
    const azureYaml = readFileSync(path.join(ROOT, 'azure.yaml'), 'utf8');
    expect(azureYaml).toMatch(/^\s+dist: \.deploy$/m);
    expect(manifest.scripts.package).toBe('node scripts/packageForAzure.mjs');
  });

  it('asks the remote build for the compiler and its types, and for none of the development tooling', () => {
    expect(Object.keys(staged.devDependencies).sort()).toEqual([...BUILD_TOOLS].sort());
    expect(staged.dependencies).toEqual(manifest.dependencies);
    expect(staged.scripts).toEqual({ build: manifest.scripts.build });
    for (const tooling of ['node', 'azurite', 'playwright-core', 'vitest', 'vite', 'tsx', 'eslint', 'dependency-cruiser', 'selfsigned'])
      expect(stagedPackages, tooling).not.toContain(`node_modules/${tooling}`);
  });

  it('locks every package the app and the build reach, at the versions the repository locks', () => {
    for (const name of [...Object.keys(manifest.dependencies), ...BUILD_TOOLS]) expect(stagedPackages).toContain(`node_modules/${name}`);
    for (const key of stagedPackages.filter(Boolean)) expect(lock.packages[key], key).toBeDefined();
    // A fraction of the repository's: the tooling's hundreds of packages stay behind.
    expect(stagedPackages.length).toBeLessThan(Object.keys(lock.packages).length / 4);
  });
});
