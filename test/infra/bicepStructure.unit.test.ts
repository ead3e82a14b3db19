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
      [
        'modules/functionApp.bicep',
        'modules/identity.bicep',
        'modules/keyVault.bicep',
        'modules/monitoring.bicep',
        'modules/monitoringAccess.bicep',
        'modules/storage.bicep',
        'modules/storageAccess.bicep',
      ].sort(),
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

  it("takes what an operator tunes from the azd environment, the deployer's principal type included", () => {
    const parameters = JSON.parse(readFileSync(path.join(INFRA, 'main.parameters.json'), 'utf8')).parameters as Record<
      string,
      { value: string }
    >;
    expect(parameters.principalType?.value).toBe('${AZURE_PRINCIPAL_TYPE=User}');
    for (const name of ['maximumInstanceCount', 'instanceMemoryMB', 'graphMaxWritesPerSecond', 'graphEndpoint', 'graphAuthorityHost']) {
      expect(parameters[name]?.value, name).toMatch(/^\$\{[A-Z_]+=.+\}$/);
    }
    const keyVault = readFileSync(path.join(INFRA, 'modules', 'keyVault.bicep'), 'utf8');
    expect(keyVault).not.toMatch(/principalType: 'User'/);
    expect(keyVault).toMatch(/principalType: operatorPrincipalType/);
  });

  it("keeps Flex Consumption's limits: its regions, at least 40 as the instance maximum, its memory sizes", () => {
    expect(main).toMatch(/@allowed\(\[\s*'australiaeast'[\s\S]*'westus3'\s*\]\)[\s\S]*?param location string/);
    expect(main).toMatch(/@minValue\(40\)\s*@maxValue\(1000\)\s*param maximumInstanceCount int/);
    expect(main).toMatch(/@allowed\(\[512, 2048, 4096\]\)\s*param instanceMemoryMB int/);
  });

  it("gives the app the storage account's own service endpoints, right in national clouds too", () => {
    const app = readFileSync(path.join(INFRA, 'modules', 'functionApp.bicep'), 'utf8');
    for (const service of ['blob', 'queue', 'table']) {
      const upper = service[0]!.toUpperCase() + service.slice(1);
      expect(app).toMatch(new RegExp(`AzureWebJobsStorage__${service}ServiceUri: storage${upper}Endpoint`));
      expect(main).toMatch(new RegExp(`storage${upper}Endpoint: storage\\.outputs\\.${service}Endpoint`));
      expect(readFileSync(path.join(INFRA, 'modules', 'storage.bicep'), 'utf8')).toMatch(
        new RegExp(`output ${service}Endpoint string = storage\\.properties\\.primaryEndpoints\\.${service}`),
      );
    }
    expect(app).not.toMatch(/AzureWebJobsStorage__accountName/);
    expect(app).toMatch(/GRAPH_TENANT_ID: empty\(graphTenantId\) \? tenant\(\)\.tenantId : graphTenantId/);
  });
});
