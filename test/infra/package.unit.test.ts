import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

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
  });
});
