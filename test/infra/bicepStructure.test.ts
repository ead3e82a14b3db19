import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * There is no Bicep compiler on our machines, so this checks what a compiler would catch first in
 * how main.bicep wires its modules: every module file exists, every parameter passed is declared,
 * and every parameter without a default is passed.
 */
const INFRA = path.join(__dirname, '..', '..', 'infra');

interface Declared {
  name: string;
  hasDefault: boolean;
}

function declaredParams(source: string): Declared[] {
  return [...source.matchAll(/^param (\w+) [\w.]+(\s*=.*)?$/gm)].map((match) => ({ name: match[1]!, hasDefault: match[2] !== undefined }));
}

/** `module x 'path' = [if (…)] { … params: { a: …, b: … } }` → path and the names passed. */
function modules(source: string): { path: string; passed: string[] }[] {
  return [...source.matchAll(/^module \w+ '([^']+)' = (?:if \([^)]*\) )?\{([\s\S]*?)^\}/gm)].map((match) => {
    const body = match[2]!;
    const params = /params: \{([\s\S]*?)\n {2}\}|params: \{(.*)\}/.exec(body);
    const block = params?.[1] ?? params?.[2] ?? '';
    const passed = [...block.matchAll(/(?:^|[\s,{])(\w+):/g)].map((name) => name[1]!);
    return { path: match[1]!, passed };
  });
}

describe('infra/main.bicep', () => {
  const main = readFileSync(path.join(INFRA, 'main.bicep'), 'utf8');
  const wired = modules(main);

  it('wires the modules it needs', () => {
    expect(wired.map((module) => module.path).sort()).toEqual(
      ['modules/functionApp.bicep', 'modules/identity.bicep', 'modules/keyVault.bicep', 'modules/monitoring.bicep', 'modules/monitoringAccess.bicep', 'modules/storage.bicep', 'modules/storageAccess.bicep'].sort(),
    );
  });

  it.each(modules(readFileSync(path.join(INFRA, 'main.bicep'), 'utf8')).map((module) => [module.path, module]))(
    '%s exists, and is given exactly the parameters it declares',
    (file, module) => {
      const target = path.join(INFRA, file as string);
      expect(existsSync(target)).toBe(true);
      const declared = declaredParams(readFileSync(target, 'utf8'));
      const passed = (module as { passed: string[] }).passed;
      expect(passed.filter((name) => !declared.some((param) => param.name === name))).toEqual([]);
      expect(declared.filter((param) => !param.hasDefault && !passed.includes(param.name)).map((param) => param.name)).toEqual([]);
    },
  );

  it('gives every parameter of main.bicep a value in main.parameters.json or a default', () => {
    const parameters = JSON.parse(readFileSync(path.join(INFRA, 'main.parameters.json'), 'utf8')).parameters as Record<string, unknown>;
    const missing = declaredParams(main).filter((param) => !param.hasDefault && !(param.name in parameters));
    expect(missing).toEqual([]);
    expect(Object.keys(parameters).filter((name) => !declaredParams(main).some((param) => param.name === name))).toEqual([]);
  });

  it('keeps shared-key access off and Application Insights keyless', () => {
    expect(readFileSync(path.join(INFRA, 'modules', 'storage.bicep'), 'utf8')).toMatch(/allowSharedKeyAccess: false/);
    expect(readFileSync(path.join(INFRA, 'modules', 'monitoring.bicep'), 'utf8')).toMatch(/DisableLocalAuth: true/);
  });
});
