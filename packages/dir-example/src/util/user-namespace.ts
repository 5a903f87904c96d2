import { readFile } from 'node:fs/promises';

/**
 * True when this process runs in the host's own user namespace, where uid 0 is the host's root
 * (`/proc/self/uid_map` maps the whole ID range onto itself). A container's provider child runs
 * in a namespace of its own, as the container's mapped root.
 */
export async function inInitialUserNamespace(): Promise<boolean> {
  const map = await readFile('/proc/self/uid_map', 'utf8').catch(() => '');
  return /^\s*0\s+0\s+4294967295\s*$/.test(map);
}
