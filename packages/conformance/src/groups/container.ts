import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BackupStorage } from '@bp/api';
import { runBackupJob, type BackupJobOptions } from '@bp/host';
import { ProviderLog } from '../driver/provider-log.js';
import { restoreContainerDirect } from '../driver/restore-container.js';
import { compareSnapshots, snapshotTree } from '@bp/archive/testing';
import { createContainerTree, FIXTURE_EXCLUDED_PATHS, FIXTURE_EXCLUDES } from '../fixtures/tree.js';
import type { Scenario, ScenarioContext } from '../kit/scenario.js';
import { conformanceError } from '../kit/verify.js';
import { containerGuestConfig, FIREWALL_CONFIG } from './guests.js';

/** Host uid of the container's root in the scenarios (PVE's default id map). */
const MAPPED_ROOT = 100_000;

/** One container backup through the host's job runner; returns the volname and how long `backupContainer` took. */
async function backupContainerJob(
  context: ScenarioContext,
  storage: BackupStorage,
  guest: { vmid: number; root: string; backupUserId: number; excludePatterns?: string[] },
  options: BackupJobOptions = {},
): Promise<{ volname: string; backupMs: number | undefined }> {
  const log = new ProviderLog();
  const logDir = await mkdtemp(join(tmpdir(), 'bp-cf-logs-'));
  let started: number | undefined;
  let backupMs: number | undefined;
  try {
    const { vmid, root, backupUserId } = guest;
    const job = await runBackupJob({
      storage,
      guests: [{ type: 'lxc', vmid, config: containerGuestConfig(vmid), rootDirectory: root, backupUserId, excludePatterns: guest.excludePatterns ?? [], firewallConfig: FIREWALL_CONFIG }],
      options: { ...options, logDir },
      log: log.log,
      onEvent: (event) => {
        if (event.type !== 'phase') return;
        if (event.phase === 'backup-container') started = Date.now();
        else if (started !== undefined && backupMs === undefined) backupMs = Date.now() - started;
      },
      ...(context.signal ? { signal: context.signal } : {}),
    });
    const result = job.guests[0];
    if (result?.status !== 'ok' || !result.volid) {
      throw conformanceError(`container backup of ${vmid} (${backupUserId === 0 ? 'privileged' : `as mapped uid ${backupUserId}`}) failed: ${result?.error?.message ?? job.error?.message}\n${log.tail()}`);
    }
    return { volname: result.volid.slice(result.volid.indexOf(':') + 1), backupMs };
  } finally {
    await rm(logDir, { recursive: true, force: true });
  }
}

async function containerRoundTrip(context: ScenarioContext, vmid: number, backupUserId: number): Promise<void> {
  const storage = await context.open();
  const root = await mkdtemp(join(context.scratch, 'ct-root-'));
  await createContainerTree(root, MAPPED_ROOT, context.random);
  // The mapped root must be able to reach the tree, as it can in PVE's /mnt/vzsnap0.
  await chmod(root, 0o755);
  const expected = await snapshotTree(root);
  for (const path of FIXTURE_EXCLUDED_PATHS) expected.delete(path);
  const { volname } = await backupContainerJob(context, storage, { vmid, root, backupUserId, excludePatterns: [...FIXTURE_EXCLUDES] });
  const target = await mkdtemp(join(context.scratch, 'ct-restore-'));
  const restored = await restoreContainerDirect(storage, volname, target);
  context.verify.equal(restored.guestConfig, containerGuestConfig(vmid), `archiveGetGuestConfig(${volname}) did not return pct.conf verbatim`);
  context.verify.equal(restored.firewallConfig, FIREWALL_CONFIG, `archiveGetFirewallConfig(${volname}) did not return the container's firewall config verbatim`);
  // An unprivileged container's archive holds ids as its user namespace sees them (PVE extracts
  // it inside that namespace again); the kit extracts as root, so the restored ids are lower by
  // the mapped root. Only file mtimes count: directories, symlinks and special files may differ.
  const problems = compareSnapshots(expected, await snapshotTree(target), {
    idShift: -backupUserId,
    ignore: ['root', 'directory-mtime', 'symlink-mtime', 'special-mtime'],
  }).slice(0, 10);
  context.verify.equal(
    problems,
    [],
    `the restored tree of ${volname} (${context.variant.containerFormat ?? 'default'} format${backupUserId === 0 ? '' : `, backed up as mapped uid ${backupUserId}`}) differs from the container (content, owners, modes, ACLs, xattrs, hard links, sparse files, special files and exclusions must round trip)`,
  );
}

const treeRoundTrip: Scenario = {
  id: 'container.round-trip',
  title: 'container tree round trip with owners, modes, ACLs, xattrs, hard links, sparse and special files, exclusions honoured',
  kind: 'backup',
  axis: 'containerFormat',
  run: (context) => containerRoundTrip(context, 500, 0),
};

const mappedUid: Scenario = {
  id: 'container.mapped-uid',
  title: "container backup runs as the container's mapped root uid",
  kind: 'backup',
  axis: 'containerFormat',
  run: (context) => containerRoundTrip(context, 501, MAPPED_ROOT),
};

const BANDWIDTH = 2 * 1024 * 1024;
/** A limiter may let a short burst through at the start (token bucket); this much is allowed. */
const BURST_ALLOWANCE_MS = 500;

const bandwidthLimit: Scenario = {
  id: 'container.bandwidth-limit',
  title: 'the bandwidth limit is not exceeded by more than 10 % for container archives',
  kind: 'backup',
  axis: 'containerFormat',
  async run(context) {
    const storage = await context.open();
    const root = await mkdtemp(join(context.scratch, 'ct-root-'));
    await chmod(root, 0o755);
    await mkdir(join(root, 'srv'));
    // Incompressible data in files of odd sizes: compression cannot make the archive small.
    const sizes = [3 * 1024 * 1024 + 1, 2 * 1024 * 1024 + 4095, 1024 * 1024 + 7];
    for (const [index, size] of sizes.entries()) await writeFile(join(root, 'srv', `blob-${index}`), context.random.bytes(size));
    const total = sizes.reduce((sum, size) => sum + size, 0);
    context.note('container data', `${total} B in ${sizes.join(', ')} B files`);
    const { backupMs } = await backupContainerJob(context, storage, { vmid: 502, root, backupUserId: 0 }, { bwlimitKiB: BANDWIDTH / 1024 });
    // Only the lower bound on time is checked: load can slow a backup down, never speed it up.
    const minimumMs = ((total / BANDWIDTH) * 1000 - BURST_ALLOWANCE_MS) / 1.1;
    context.verify.that(
      (backupMs ?? 0) >= minimumMs,
      `backupContainer (${context.variant.containerFormat ?? 'default'} format) archived ${total} bytes in ${backupMs ?? '?'} ms with a bandwidth limit of ${BANDWIDTH} B/s; at most 10 % above the limit (after a ${BURST_ALLOWANCE_MS} ms burst) means at least ${Math.round(minimumMs)} ms`,
    );
  },
};

/** Container data scenarios. */
export const containerScenarios: readonly Scenario[] = [treeRoundTrip, mappedUid, bandwidthLimit];
