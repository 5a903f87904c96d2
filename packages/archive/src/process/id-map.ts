import { BpError } from '@bp/api';

/** One range of a container's ID map (lxc.idmap `u 0 100000 65536`). */
export interface IdMapEntry {
  type: 'u' | 'g';
  /** First ID inside the container. */
  inner: number;
  /** First host ID it maps to. */
  outer: number;
  count: number;
}

/** PVE's default map of unprivileged containers: IDs 0..65535 -> 100000..165535. */
export const DEFAULT_ID_MAP: readonly IdMapEntry[] = Object.freeze([
  { type: 'u', inner: 0, outer: 100000, count: 65536 },
  { type: 'g', inner: 0, outer: 100000, count: 65536 },
]);

/** The map of a plain shift: IDs 0..count-1 -> shift..shift+count-1, for users and groups. */
export function idMapForShift(shift: number, count = 65536): IdMapEntry[] {
  return [
    { type: 'u', inner: 0, outer: shift, count },
    { type: 'g', inner: 0, outer: shift, count },
  ];
}

/** Host uid and gid of the container's root; throws BP_INVALID_ARGUMENT when root is not mapped. */
export function mappedRoot(idMap: readonly IdMapEntry[]): { uid: number; gid: number } {
  const find = (type: 'u' | 'g'): number => {
    const entry = idMap.find((e) => e.type === type && e.inner <= 0 && e.inner + e.count > 0);
    if (!entry) throw new BpError('BP_INVALID_ARGUMENT', `the ID map does not map the container's root ${type === 'u' ? 'user' : 'group'}; add a range starting at 0`);
    return entry.outer - entry.inner;
  };
  const uid = find('u');
  const gid = find('g');
  if (uid === 0 || gid === 0) {
    throw new BpError('BP_INVALID_ARGUMENT', 'the ID map maps the container root to host root; restores from a provider are unprivileged only');
  }
  return { uid, gid };
}

/** Validates an ID map: non-negative integers, positive counts. */
export function checkIdMap(idMap: readonly IdMapEntry[]): void {
  for (const e of idMap) {
    const ok = (e.type === 'u' || e.type === 'g') && [e.inner, e.outer, e.count].every((n) => Number.isInteger(n) && n >= 0) && e.count > 0;
    if (!ok) throw new BpError('BP_INVALID_ARGUMENT', `invalid ID map entry ${JSON.stringify(e)}; use { type: 'u'|'g', inner, outer, count } with non-negative integers`);
  }
}
