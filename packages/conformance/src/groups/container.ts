import { chmod, mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { runBackupJob } from '@bp/host';
import { ProviderLog } from '../driver/provider-log.js';
import { restoreContainerDirect } from '../driver/restore-container.js';
import { createContainerTree, describeTree, FIXTURE_EXCLUDED_PATHS, FIXTURE_EXCLUDES, shiftIds, treeDifferences, withoutPaths } from '../fixtures/tree.js';
import type { Scenario, ScenarioContext } from '../kit/scenario.js';
import { conformanceError } from '../kit/verify.js';
import { containerGuestConfig, FIREWALL_CONFIG } from './guests.js';

/** Host uid of the container's root in the scenarios (PVE's default id map). */
const MAPPED_ROOT = 100_000;

async function containerRoundTrip(context: ScenarioContext, vmid: number, backupUserId: number): Promise<void> {
  const storage = await context.open();
  // The mapped root must be able to reach the tree, as it can in PVE's /mnt/vzsnap0.
  await chmod(context.scratch, 0o755);
  const root = await mkdtemp(join(context.scratch, 'ct-root-'));
  await createContainerTree(root, MAPPED_ROOT);
  await chmod(root, 0o755);
  const expected = withoutPaths(await describeTree(root), FIXTURE_EXCLUDED_PATHS);
  const log = new ProviderLog();
  const job = await runBackupJob({
    storage,
    guests: [{ type: 'lxc', vmid, config: containerGuestConfig(vmid), rootDirectory: root, backupUserId, excludePatterns: [...FIXTURE_EXCLUDES], firewallConfig: FIREWALL_CONFIG }],
    log: log.log,
    ...(context.signal ? { signal: context.signal } : {}),
  });
  const guest = job.guests[0];
  if (guest?.status !== 'ok' || !guest.volid) {
    throw conformanceError(`container backup of ${vmid} (${backupUserId === 0 ? 'privileged' : `as mapped uid ${backupUserId}`}) failed: ${guest?.error?.message ?? job.error?.message}\n${log.tail()}`);
  }
  const volname = guest.volid.slice(guest.volid.indexOf(':') + 1);
  const target = await mkdtemp(join(context.scratch, 'ct-restore-'));
  const restored = await restoreContainerDirect(storage, volname, target);
  context.verify.equal(restored.guestConfig, containerGuestConfig(vmid), `archiveGetGuestConfig(${volname}) did not return pct.conf verbatim`);
  // An unprivileged container's archive holds ids as its user namespace sees them (PVE extracts
  // it inside that namespace again); the kit extracts as root, so it shifts them back here.
  const actual = shiftIds(await describeTree(target), backupUserId);
  const problems = treeDifferences(expected, actual);
  context.verify.equal(problems, [], `the restored tree of ${volname} (${context.variant.containerFormat ?? 'default'} format) differs from the container (content, owners, modes, ACLs, xattrs, hard links, sparse files, special files and exclusions must round trip)`);
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

/** Container data scenarios. */
export const containerScenarios: readonly Scenario[] = [treeRoundTrip, mappedUid];
