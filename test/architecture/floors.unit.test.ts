import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { appRoot } from '../../local/appRoot';

/**
 * The floors that `npm run lint` keeps (.dependency-cruiser.cjs): the rules are run on the real tree
 * by lint; here they are run on small trees that break them, so a rule that stopped catching its
 * violation would fail this test.
 */
describe('the architecture rules', () => {
  let tree: string | undefined;
  afterEach(() => {
    if (tree) rmSync(tree, { recursive: true, force: true });
    tree = undefined;
  });

  /** Runs depcruise with the project's rules on a tree of files (path → source). */
  function cruise(files: Record<string, string>): { exitCode: number | null; output: string } {
    tree = mkdtempSync(path.join(tmpdir(), 'floors-'));
    const all = { 'tsconfig.json': JSON.stringify({ compilerOptions: { module: 'node20', moduleResolution: 'node16' } }), ...files };
    for (const [name, source] of Object.entries(all)) {
      mkdirSync(path.dirname(path.join(tree, name)), { recursive: true });
      writeFileSync(path.join(tree, name), source);
    }
    const roots = [...new Set(Object.keys(files).map((name) => name.split('/')[0]!))];
    const result = spawnSync(
      process.execPath,
      [
        path.join(appRoot(), 'node_modules/dependency-cruiser/bin/dependency-cruiser.mjs'),
        '--config',
        path.join(appRoot(), '.dependency-cruiser.cjs'),
        ...roots,
      ],
      { cwd: tree, encoding: 'utf8' },
    );
    return { exitCode: result.status, output: `${result.stdout}${result.stderr}` };
  }

  it('refuse an import that runs back up a floor of shared/', () => {
    const { exitCode, output } = cruise({
      'shared/core/invitation.ts': "import { InvitationStore } from '../storage/invitationStore';\nexport const a = InvitationStore;\n",
      'shared/storage/invitationStore.ts': 'export class InvitationStore {}\n',
    });
    expect(output).toContain('shared-core-imports-only-below');
    expect(exitCode).not.toBe(0);
  });

  it('refuse files that import each other in a circle', () => {
    const { exitCode, output } = cruise({
      'shared/worker/invitationWorker.ts': "import { followUp } from './invitationFollowUp';\nexport const worker = () => followUp;\n",
      'shared/worker/invitationFollowUp.ts': "import { worker } from './invitationWorker';\nexport const followUp = () => worker;\n",
    });
    expect(output).toContain('no-circular');
    expect(exitCode).not.toBe(0);
  });

  it('refuse development tooling in the deployed code, and the runtime in the domain', () => {
    const { exitCode, output } = cruise({
      'functions/submitInvitations.ts': "import { GraphEmulator } from '../local/graphEmulator';\nexport const e = GraphEmulator;\n",
      'local/graphEmulator.ts': 'export class GraphEmulator {}\n',
      'shared/intake/intake.ts': "import { handler } from '../../functions/submitInvitations';\nexport const h = handler;\n",
    });
    expect(output).toContain('functions-ship-alone');
    expect(output).toContain('shared-is-the-domain');
    expect(exitCode).not.toBe(0);
  });

  it('refuse a capability’s files used from outside it, where its index.ts says what it offers', () => {
    const { exitCode, output } = cruise({
      'shared/graph/graphPacer.ts': 'export class GraphPacer {}\n',
      'shared/graph/index.ts': "export { GraphPacer } from './graphPacer';\n",
      'shared/worker/invitationWorker.ts': "import { GraphPacer } from '../graph/graphPacer';\nexport const w = GraphPacer;\n",
      'functions/processInvitation.ts': "import { GraphPacer } from '../shared/graph/graphPacer';\nexport const p = GraphPacer;\n",
    });
    expect(output).toContain('a-capability-offers-through-its-index');
    expect(output).toContain('the-app-uses-capabilities-through-their-index');
    expect(exitCode).not.toBe(0);
  });

  it('let imports run down the floors, through each capability’s index', () => {
    const { exitCode, output } = cruise({
      'shared/worker/invitationWorker.ts': "import { Invitation } from '../core';\nexport const w = Invitation;\n",
      'shared/worker/index.ts': "export { w } from './invitationWorker';\n",
      'shared/core/invitation.ts': 'export class Invitation {}\n',
      'shared/core/index.ts': "export { Invitation } from './invitation';\n",
      'functions/processInvitation.ts': "import { w } from '../shared/worker';\nexport const p = w;\n",
    });
    expect(output).toContain('no dependency violations');
    expect(exitCode).toBe(0);
  });
});
