import { readFileSync } from 'node:fs';
import path from 'node:path';
import { TableClient } from '@azure/data-tables';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';
import { appRoot } from '../../local/appRoot';
import { FIXED_PARTITION_NAMES, TABLE_LAYOUT, TableLayout } from '../../shared/storage/tableLayout';

/** The one table's layout (shared/storage/tableLayout.ts): one place says which row is whose, and the docs say the same. */
describe('the table layout', () => {
  it('is the table docs/architecture.md shows, row for row', () => {
    const docs = readFileSync(path.join(appRoot(), 'docs/architecture.md'), 'utf8');
    const section = docs.slice(docs.indexOf('## One table, several kinds of rows'));
    const lines = section.split('\n');
    const header = lines.findIndex((line) => line.startsWith('| PartitionKey'));
    const end = lines.findIndex((line, at) => at > header && !line.startsWith('|'));
    const rows = lines.slice(header + 2, end);
    const shown = rows.map((line) =>
      line
        .slice(2, -2)
        .split(/(?<!\\) \| /)
        .map((cell) => cell.trim()),
    );
    expect(shown).toEqual(TABLE_LAYOUT.map((kind) => [kind.partitionKey, kind.rowKey, kind.what, kind.writtenBy]));
  });

  it('names every fixed partition once, and no two kinds share one', () => {
    expect(new Set(FIXED_PARTITION_NAMES).size).toBe(FIXED_PARTITION_NAMES.length);
    for (const name of FIXED_PARTITION_NAMES) expect(TABLE_LAYOUT.filter((kind) => kind.partitionKey === `\`${name}\``)).toHaveLength(1);
  });

  it('hands out the rows of one partition, and refuses a transaction that strays out of it', async () => {
    // Never reached: the stray row is refused before any call.
    const layout = new TableLayout(new TableClient('https://127.0.0.1:9/devstoreaccount1', 'Nowhere'));
    const rows = layout.batchRows('b-1');
    expect(rows.partitionKey).toBe('b|b-1');
    expect(layout.rows('idempotency').partitionKey).toBe('idem');
    expect(layout.recordRows('c0ffee').partitionKey).toBe('rc');
    expect(layout.allRecordRows().map((partition) => partition.partitionKey)).toHaveLength(16);
    await expect(rows.transact([['create', { partitionKey: 'b|other', rowKey: 'meta' }]])).rejects.toThrow(/holds a row of b\|other/);
  });

  it('is the only way into the table from shared/: lint refuses a module that takes the TableClient', async () => {
    const eslint = new ESLint({ cwd: appRoot() });
    const source = "import type { TableClient } from '@azure/data-tables';\nexport type Rows = TableClient;\n";
    const [inDomain] = await eslint.lintText(source, { filePath: path.join(appRoot(), 'shared/mail/anyModule.ts') });
    expect(inDomain!.messages.map((message) => message.ruleId)).toContain('no-restricted-imports');
    const [inLayout] = await eslint.lintText(source, { filePath: path.join(appRoot(), 'shared/storage/tableLayout.ts') });
    expect(inLayout!.messages.map((message) => message.ruleId)).not.toContain('no-restricted-imports');
  });
});
