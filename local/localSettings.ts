import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

/**
 * local.settings.json, read the way `func start` reads it: its `Values` become environment
 * variables, but a variable already set in the real environment wins.
 */
const localSettingsSchema = z.object({
  IsEncrypted: z.boolean().optional(),
  Values: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String)).default({}),
});

export function loadLocalSettings(appRoot: string, env: NodeJS.ProcessEnv = process.env): { file?: string; applied: string[] } {
  const file = path.join(appRoot, 'local.settings.json');
  if (!existsSync(file)) return { applied: [] };
  const parsed = localSettingsSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  if (!parsed.success)
    throw new Error(`local.settings.json is not valid: ${parsed.error.issues[0]?.path.join('.')} ${parsed.error.issues[0]?.message}.`);
  if (parsed.data.IsEncrypted)
    throw new Error('local.settings.json is encrypted (IsEncrypted: true); decrypt it with `func settings decrypt`.');
  const applied: string[] = [];
  for (const [name, value] of Object.entries(parsed.data.Values)) {
    if (env[name] === undefined) {
      env[name] = value;
      applied.push(name);
    }
  }
  return { file, applied };
}
