import { join } from 'node:path';
import type { CommandContext } from '../args/command-spec.js';
import { runGuestBackup } from '../commands/backup-job.js';
import { providerLog } from '../commands/provider-log.js';
import { hostRestoreContainer } from '../deps/host-restore.js';
import { CT_ID_SHIFT, demoStep, type DemoBackup, type DemoOptions } from './demo-step.js';
import { createSampleTree, SAMPLE_TREE_EXCLUDED } from './sample-tree.js';
import { manifestDifferences, shiftManifest, treeManifest } from './tree-manifest.js';

/** The container part: a sample tree, backed up (unprivileged when possible) and its proof. */
export async function backupDemoContainer(context: CommandContext, options: DemoOptions, work: string): Promise<DemoBackup> {
  // An unprivileged container's tree as the host sees it has owners shifted by its ID map.
  const shift = options.unprivileged ? CT_ID_SHIFT : 0;
  const tree = join(work, 'ct-rootfs');
  await createSampleTree(tree, { idOffset: shift });
  const label = `ct ${options.ctid}`;
  context.log(`${label}: backing up the sample tree (ACLs, xattrs, hardlinks, sparse file) as ${options.unprivileged ? 'unprivileged' : 'privileged'} container`);
  const storage = await options.openStorage({});
  const idmap = options.unprivileged ? `unprivileged: 1\n${['u', 'g'].map((kind) => `lxc.idmap: ${kind} 0 ${CT_ID_SHIFT} 65536\n`).join('')}` : '';
  const result = await runGuestBackup(
    context,
    storage,
    {
      type: 'lxc',
      vmid: options.ctid,
      config: `arch: amd64\nhostname: demo-ct\nrootfs: ${tree}\n${idmap}`,
      rootDirectory: tree,
      backupUserId: shift,
      excludePatterns: ['/var/cache/apt/*.bin'],
    },
    { values: { notes: `bp demo: ${label}` }, mode: String((storage.config as Record<string, unknown>)['lxc-backup-mode'] ?? 'tar'), totalBytes: 0 },
  );
  return {
    step: demoStep(label, result),
    verify: async (scratch, signal) => {
      // Restores are unprivileged with the backup's ID map (PVE's default for a privileged
      // backup): an unprivileged tree comes back exactly, a privileged one with owners shifted.
      const root = join(scratch, 'rootfs');
      await hostRestoreContainer({ storage, volid: result.volid, targetDir: root, log: providerLog(context), signal });
      const original = await treeManifest(tree, { exclude: SAMPLE_TREE_EXCLUDED });
      const expected = options.unprivileged ? original : shiftManifest(original, CT_ID_SHIFT);
      const differences = manifestDifferences(expected, await treeManifest(root));
      return differences.length === 0 ? undefined : differences.slice(0, 3).join('; ');
    },
  };
}
