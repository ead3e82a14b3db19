import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSettings, settingsSchema, SettingsError } from '../../shared/settings';

const root = path.join(__dirname, '..', '..');

describe('settings', () => {
  it('lists every setting the app reads in local.settings.sample.json, and only those', () => {
    const sample = JSON.parse(readFileSync(path.join(root, 'local.settings.sample.json'), 'utf8'));
    const sampleKeys = Object.keys(sample.Values).filter((key) => key !== 'FUNCTIONS_WORKER_RUNTIME');
    expect(sampleKeys.sort()).toEqual(Object.keys(settingsSchema.shape).sort());
  });

  it('documents every setting in the README settings table', () => {
    const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
    for (const name of Object.keys(settingsSchema.shape)) expect(readme, name).toContain(`| \`${name}\``);
  });

  it('applies documented defaults', () => {
    const settings = loadSettings({ AzureWebJobsStorage: 'UseDevelopmentStorage=true' });
    expect(settings).toMatchObject({
      GRAPH_AUTHORITY_HOST: 'https://login.microsoftonline.com',
      GRAPH_ENDPOINT: 'https://graph.microsoft.com',
      GRAPH_MAX_WRITES_PER_SECOND: 20,
      QUEUED_STALE_AFTER_SECONDS: 600,
      INVITE_ALLOWED_DOMAINS: [],
    });
  });

  it.each([
    [{ GRAPH_MAX_WRITES_PER_SECOND: 'fast' }, /GRAPH_MAX_WRITES_PER_SECOND is invalid.*GRAPH_MAX_WRITES_PER_SECOND=20/],
    [{ GRAPH_ENDPOINT: 'http://graph.microsoft.com' }, /GRAPH_ENDPOINT is invalid: expected an https URL/],
    [{ INVITE_ALLOWED_DOMAINS: 'contoso.com, not a domain' }, /INVITE_ALLOWED_DOMAINS is invalid/],
    [{ GRAPH_CLIENT_SECRET: 's3cret' }, /GRAPH_TENANT_ID is missing/],
    [{ GRAPH_TENANT_ID: 't', GRAPH_CLIENT_SECRET: 's3cret' }, /GRAPH_CLIENT_ID is missing/],
    [{ GRAPH_TENANT_ID: 't', GRAPH_CLIENT_ID: 'c', GRAPH_CLIENT_SECRET: 's', GRAPH_CLIENT_CERTIFICATE_PATH: '/x.pem' }, /are all set/],
  ])('stops with a sentence naming the setting for %o', (env, message) => {
    expect(() => loadSettings({ AzureWebJobsStorage: 'UseDevelopmentStorage=true', ...env })).toThrow(SettingsError);
    expect(() => loadSettings({ AzureWebJobsStorage: 'UseDevelopmentStorage=true', ...env })).toThrow(message);
  });

  it('needs a storage account: a connection string or the identity-based settings', () => {
    expect(() => loadSettings({})).toThrow(/AzureWebJobsStorage is missing/);
    expect(loadSettings({ AzureWebJobsStorage__accountName: 'invitesprod' }).AzureWebJobsStorage__accountName).toBe('invitesprod');
  });

  it('stops start-up when a webhook secret is shorter than 32 bytes, without printing it', () => {
    expect(() => loadSettings({ AzureWebJobsStorage: 'UseDevelopmentStorage=true', INTAKE_HMAC_SECRET: 'short-guessable' })).toThrow(
      /Setting INTAKE_HMAC_SECRET is invalid: each secret must be at least 32 bytes long/,
    );
    expect(() => loadSettings({ AzureWebJobsStorage: 'UseDevelopmentStorage=true', INTAKE_HMAC_SECRET: 'short-guessable' })).not.toThrow(
      /short-guessable/,
    );
    const rotating = loadSettings({
      AzureWebJobsStorage: 'UseDevelopmentStorage=true',
      INTAKE_HMAC_SECRET: `${'a'.repeat(32)}, ${'b'.repeat(40)}`,
    });
    expect(rotating.INTAKE_HMAC_SECRET).toEqual(['a'.repeat(32), 'b'.repeat(40)]);
    expect(() =>
      loadSettings({
        AzureWebJobsStorage: 'UseDevelopmentStorage=true',
        INTAKE_HMAC_SECRET: ['a', 'b', 'c'].map((c) => c.repeat(32)).join(','),
      }),
    ).toThrow(/two comma-separated/);
  });

  it.each(['INTAKE_HMAC_SECRET', 'GRAPH_CLIENT_SECRET'])(
    'stops start-up when %s is a Key Vault reference the platform could not resolve',
    (name) => {
      const reference = '@Microsoft.KeyVault(VaultName=kv-invite-abc;SecretName=the-secret)';
      const env = { AzureWebJobsStorage: 'UseDevelopmentStorage=true', GRAPH_TENANT_ID: 't', GRAPH_CLIENT_ID: 'c', [name]: reference };
      expect(() => loadSettings(env)).toThrow(new RegExp(`Setting ${name} is an unresolved Key Vault reference`));
    },
  );

  it('never echoes a secret in its error', () => {
    try {
      loadSettings({ AzureWebJobsStorage: 'UseDevelopmentStorage=true', GRAPH_CLIENT_SECRET: 'do-not-print-me' });
      expect.unreachable();
    } catch (error) {
      expect((error as Error).message).not.toContain('do-not-print-me');
    }
  });
});
