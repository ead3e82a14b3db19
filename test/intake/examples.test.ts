import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { AppDependencies } from '../../shared/appDependencies';
import { clearQueue, createTestDependencies, submit } from '../support/harness';

const examples = path.join(__dirname, '..', '..', 'examples');
let deps: AppDependencies;
beforeAll(async () => {
  deps = await createTestDependencies();
});

describe('the examples the README submits', () => {
  it('examples/partners.json: three people queued, the bad address rejected by name', async () => {
    const response = await submit(deps, readFileSync(path.join(examples, 'partners.json'), 'utf8'));
    expect(response.status).toBe(202);
    expect(response.json.batchId).toBe('partners-example');
    expect(response.json.items).toHaveLength(3);
    expect(response.json.rejected).toEqual([
      { index: 3, errors: [{ path: 'invitations[3].invitedUserEmailAddress', message: expect.any(String) }] },
    ]);
    await clearQueue(deps);
  });

  it('examples/partners.csv (the portal format): three people queued, the "+" address rejected with its line', async () => {
    const response = await submit(deps, readFileSync(path.join(examples, 'partners.csv'), 'utf8'), { contentType: 'text/csv' });
    expect(response.status).toBe(202);
    expect(response.json.items.map((item: { email: string }) => item.email)).toEqual([
      'ava.jones@fabrikam.com',
      'ben.miller@fabrikam.com',
      'chloe.martin@northwind.example',
    ]);
    expect(response.json.rejected).toEqual([
      { index: 3, line: 6, errors: [{ path: 'invitedUserEmailAddress', message: expect.stringContaining("'+'") }] },
    ]);
    await clearQueue(deps);
  });
});
