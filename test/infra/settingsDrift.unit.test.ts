import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { settingsSchema } from '../../shared/settings';

const ROOT = path.join(__dirname, '..', '..');

function bicepFiles(folder: string): string[] {
  return readdirSync(folder).flatMap((entry) => {
    const full = path.join(folder, entry);
    return statSync(full).isDirectory() ? bicepFiles(full) : entry.endsWith('.bicep') ? [full] : [];
  });
}

/** App settings in the Bicep: object keys written in the settings' own style (UPPER_CASE or AzureWebJobsStorage__x). */
function bicepAppSettings(): Set<string> {
  const names = new Set<string>();
  for (const file of bicepFiles(path.join(ROOT, 'infra'))) {
    for (const match of readFileSync(file, 'utf8').matchAll(/^\s*(AzureWebJobsStorage__\w+|[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+):\s/gm))
      names.add(match[1]!);
  }
  return names;
}

/** The "optional setting | default" table of docs/deploy.md. */
function documentedOptionalSettings(): Map<string, string> {
  const doc = readFileSync(path.join(ROOT, 'docs', 'deploy.md'), 'utf8');
  const table = doc.slice(doc.indexOf('| optional setting | default |'));
  return new Map([...table.matchAll(/^\| `([^`]+)` \| (.+?) \|$/gm)].map((match) => [match[1]!, match[2]!.trim()]));
}

function schemaDefault(name: keyof typeof settingsSchema.shape): string {
  const value: unknown = settingsSchema.shape[name].parse(undefined);
  if (value === undefined || (typeof value === 'object' && value !== null && Object.keys(value).length === 0)) return '(unset)';
  return `\`${String(value)}\``;
}

// Settings the platform reads, not our code.
const PLATFORM_SETTINGS = new Set(['APPLICATIONINSIGHTS_CONNECTION_STRING', 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING']);

describe('settings: code and infrastructure agree', () => {
  const inBicep = bicepAppSettings();
  const optional = documentedOptionalSettings();

  it('finds the app settings in infra/', () => {
    expect(inBicep.has('AzureWebJobsStorage__queueServiceUri')).toBe(true);
    expect(inBicep.size).toBeGreaterThan(5);
  });

  it.each(Object.keys(settingsSchema.shape) as (keyof typeof settingsSchema.shape)[])(
    '%s is set by the Bicep, or documented in docs/deploy.md as optional with its default',
    (name) => {
      if (inBicep.has(name)) return;
      expect(optional.has(name), `${name} is neither set in infra/ nor listed as optional in docs/deploy.md`).toBe(true);
      expect(optional.get(name)).toBe(schemaDefault(name));
    },
  );

  it('sets no app setting the code does not read', () => {
    const unknown = [...inBicep].filter((name) => !(name in settingsSchema.shape) && !PLATFORM_SETTINGS.has(name));
    expect(unknown).toEqual([]);
  });

  it('sets every setting an operator tunes from the azd environment, so that `azd provision` keeps it', () => {
    // What a deployment does not set: local storage, local certificate files, and local-only switches.
    const notOnAzure = new Set([
      'AzureWebJobsStorage',
      'AzureWebJobsStorage__accountName',
      'GRAPH_CLIENT_CERTIFICATE_PATH',
      'AZURE_FEDERATED_TOKEN_FILE',
      'CALLBACK_ALLOW_PRIVATE',
    ]);
    const missing = Object.keys(settingsSchema.shape).filter((name) => !inBicep.has(name) && !notOnAzure.has(name));
    expect(missing).toEqual([]);
  });

  it('gives every azd environment value of a setting the setting’s own default', () => {
    const parameters = readFileSync(path.join(ROOT, 'infra', 'main.parameters.json'), 'utf8');
    const defaults = [...parameters.matchAll(/"\$\{([A-Z][A-Z0-9_]+)=([^}]*)\}"/g)].filter(([, name]) => name! in settingsSchema.shape);
    expect(defaults.length).toBeGreaterThan(20);
    // Where a deployment is stricter than the code's default, on purpose (docs/security.md).
    const stricterOnAzure: Record<string, string> = { INVITE_ALLOWED_REDIRECT_HOSTS: '`myapps.microsoft.com`' };
    for (const [, name, value] of defaults) {
      const expected = stricterOnAzure[name!] ?? schemaDefault(name as keyof typeof settingsSchema.shape);
      expect(value === '' ? '(unset)' : `\`${value}\``, name).toBe(expected);
    }
  });

  it('documents as optional only settings that exist', () => {
    const unknown = [...optional.keys()].filter((name) => !(name in settingsSchema.shape));
    expect(unknown).toEqual([]);
  });
});
