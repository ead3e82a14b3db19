import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { appRoot } from '../../local/appRoot';
import { stagePackage } from '../../scripts/packageForAzure.mjs';

/**
 * What Azure's remote build does with the staged package (scripts/packageForAzure.mjs), done here:
 * install what its package.json and lock ask for (from the npm cache `npm ci` filled, offline),
 * `npm run build`, then drop the devDependencies and load the app. So the staged package builds
 * with the compiler and its types alone, and runs with its dependencies alone: none of the
 * development tooling is needed there.
 */
describe('the staged package, built as Azure builds it', () => {
  const target = mkdtempSync(path.join(tmpdir(), 'staged-'));
  afterAll(() => rmSync(target, { recursive: true, force: true }));

  const npm = (...args: string[]) =>
    execFileSync(process.platform === 'win32' ? 'npm.cmd' : 'npm', args, {
      cwd: target,
      encoding: 'utf8',
      env: { ...process.env, npm_config_offline: 'true', npm_config_audit: 'false', npm_config_fund: 'false' },
    });

  it('installs from its own lock, builds, and loads every function with production dependencies only', () => {
    const { lock } = stagePackage(appRoot(), target);
    npm('ci', '--ignore-scripts');
    npm('run', 'build');
    npm('prune', '--omit=dev', '--ignore-scripts');
    const installed = JSON.parse(npm('ls', '--all', '--json', '--omit=dev')) as { dependencies: Record<string, unknown> };
    expect(Object.keys(installed.dependencies)).not.toContain('typescript');
    const loaded = execFileSync(
      process.execPath,
      ['-e', "require('./dist/functions/index.js'); console.log(require('@azure/functions').app ? 'loaded' : 'no app')"],
      { cwd: target, encoding: 'utf8', env: { ...process.env, AzureWebJobsStorage: 'UseDevelopmentStorage=true' } },
    );
    expect(loaded.trim().split('\n').at(-1)).toBe('loaded');
    expect(Object.keys(lock.packages).length).toBeGreaterThan(20);
  }, 120_000);
});
