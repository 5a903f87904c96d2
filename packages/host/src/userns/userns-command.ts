import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BpError } from '@bp/api';
import type { IdMapEntry } from './id-map.js';

// util-linux `unshare --map-users/--map-groups` writes the maps through newuidmap/newgidmap, which
// check /etc/subuid for unprivileged callers. The host runs as root, which may write any map
// itself, so these helpers write /proc/<pid>/{uid,gid}_map directly (same argument format).
function mapHelper(file: 'uid_map' | 'gid_map'): string {
  return `#!/bin/sh
pid=$1; shift
map=""
while [ $# -ge 3 ]; do map="$map$1 $2 $3
"; shift 3; done
printf '%s' "$map" > "/proc/$pid/${file}"
`;
}

/** A command line that runs `command` as root of a user namespace with `idMap` (PVE: `lxc-usernsexec`). */
export interface UsernsCommand {
  file: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  /** Removes the helper directory. */
  dispose(): Promise<void>;
}

/**
 * Prepares `unshare --map-users=... --map-groups=... --setuid 0 --setgid 0 -- <command>`: the
 * command runs as the container's root, i.e. as the mapped host uid, and can only create files
 * owned by IDs inside the map.
 */
export async function usernsCommand(idMap: readonly IdMapEntry[], command: readonly string[]): Promise<UsernsCommand> {
  for (const type of ['u', 'g'] as const) {
    if (idMap.filter((e) => e.type === type).length !== 1) {
      throw new BpError('BP_NOT_SUPPORTED', `the ID map needs exactly one ${type === 'u' ? 'user' : 'group'} range (unshare maps one range per type)`);
    }
  }
  const helperDir = await mkdtemp(join(tmpdir(), 'bp-userns-'));
  await writeFile(join(helperDir, 'newuidmap'), mapHelper('uid_map'));
  await writeFile(join(helperDir, 'newgidmap'), mapHelper('gid_map'));
  await chmod(join(helperDir, 'newuidmap'), 0o755);
  await chmod(join(helperDir, 'newgidmap'), 0o755);
  const ranges = (type: 'u' | 'g'): string[] => idMap.filter((e) => e.type === type).map((e) => `--map-${type === 'u' ? 'users' : 'groups'}=${e.outer},${e.inner},${e.count}`);
  return {
    file: 'unshare',
    args: [...ranges('u'), ...ranges('g'), '--setuid', '0', '--setgid', '0', '--', ...command],
    env: { ...process.env, PATH: `${helperDir}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}` },
    dispose: () => rm(helperDir, { recursive: true, force: true }),
  };
}
