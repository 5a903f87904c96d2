import { homedir } from 'node:os';
import { join } from 'node:path';

/** Where bp keeps its data (embedded storages) and its configuration. */
export interface BpPaths {
  /** `$BP_HOME`, `$XDG_DATA_HOME/bp` or `~/.local/share/bp`. */
  dataDir: string;
  /** `$BP_HOME`, `$XDG_CONFIG_HOME/bp` or `~/.config/bp`. */
  configDir: string;
  /** The storages config file inside {@link configDir}. */
  storagesFile: string;
}

/** Resolves bp's directories from the environment (XDG base directories; `BP_HOME` overrides both). */
export function resolvePaths(env: Record<string, string | undefined>): BpPaths {
  const home = env.HOME && env.HOME.length > 0 ? env.HOME : homedir();
  const bpHome = env.BP_HOME && env.BP_HOME.length > 0 ? env.BP_HOME : undefined;
  const dataDir = bpHome ?? join(env.XDG_DATA_HOME || join(home, '.local', 'share'), 'bp');
  const configDir = bpHome ?? join(env.XDG_CONFIG_HOME || join(home, '.config'), 'bp');
  return { dataDir, configDir, storagesFile: join(configDir, 'storages.json') };
}
