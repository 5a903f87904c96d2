import { BpError } from '@bp/api';

/**
 * Reads `name` from a workspace package's namespace. When the installed build of that package
 * does not provide it, the call site fails with `BP_NOT_SUPPORTED` naming the package and the
 * export, instead of the whole CLI failing to load.
 */
export function optionalExport<T>(namespace: object, packageName: string, name: string): T {
  const value = (namespace as Record<string, unknown>)[name];
  if (value === undefined) {
    throw new BpError(
      'BP_NOT_SUPPORTED',
      `this build of ${packageName} does not provide ${name}; rebuild the workspace (npx turbo run build --filter=@bp/cli) or install a bp release that includes it`,
      { details: { package: packageName, export: name } },
    );
  }
  return value as T;
}
