// The types of packageForAzure.mjs, for the tests that check what it stages.
export interface PackageManifest {
  name: string;
  version: string;
  main: string;
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  [field: string]: unknown;
}
export interface PackageLock {
  lockfileVersion: number;
  packages: Record<string, Record<string, unknown>>;
  [field: string]: unknown;
}
export const BUILD_TOOLS: readonly string[];
export const STAGED_PATHS: readonly string[];
export function stagedManifest(manifest: PackageManifest): PackageManifest;
export function stagedLock(lock: PackageLock, manifest: PackageManifest): PackageLock;
export function stagePackage(root: string, target: string): { manifest: PackageManifest; lock: PackageLock };
