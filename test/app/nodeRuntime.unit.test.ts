import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

// The tests run on the Node.js major Azure runs the app on, whatever the machine's own Node is:
// package.json's `node` devDependency puts it first on the PATH of every npm script.

const ROOT = path.join(__dirname, '..', '..');
const major = (version: string) => Number(/^v?(\d+)\./.exec(version)![1]);
const azureMajor = Number(
  /runtime: \{ name: 'node', version: '(\d+)' \}/.exec(readFileSync(path.join(ROOT, 'infra', 'modules', 'functionApp.bicep'), 'utf8'))![1],
);

describe('the Node.js the tests run on', () => {
  it('is the major Azure runs (infra/), in this process and as `node` on the PATH', () => {
    const onPath = execFileSync('node', ['--version']).toString().trim();
    console.info(`[runtime] node --version: ${onPath}; Azure runs Node ${azureMajor}.`);
    expect(major(process.version)).toBe(azureMajor);
    expect(major(onPath)).toBe(azureMajor);
  });

  it('is what package.json asks for: engines from that major, and the node package of that major', () => {
    const manifest = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
      engines: { node: string };
      devDependencies: Record<string, string>;
    };
    expect(manifest.engines.node).toBe(`>=${azureMajor}`);
    expect(major(manifest.devDependencies.node!.replace(/^[\^~]/, ''))).toBe(azureMajor);
  });
});
