import { access } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import { assertSpecificationVersion, isValidStorageId, type BackupStorage, type BackupStoragePlugin } from '@bp/api';
import type { ScenarioContext } from '../kit/scenario.js';
import type { Scenario } from '../kit/scenario.js';
import { conformanceError } from '../kit/verify.js';
import { needsGuests, smallBackup } from './guests.js';

const declaration: Scenario = {
  id: 'factory.declaration',
  title: 'factory returns a storage with a valid contract declaration',
  kind: 'storage',
  axis: 'none',
  async run(context) {
    const storage = await context.open({});
    try {
      assertSpecificationVersion(storage.plugin, `storage plugin '${storage.plugin.type}'`);
      assertSpecificationVersion(storage.newBackupProvider(() => {}), `the provider of storage plugin '${storage.plugin.type}'`);
    } catch (error) {
      throw conformanceError('the plugin or its provider declares an unknown specificationVersion', error);
    }
    context.verify.that(isValidStorageId(storage.storeId), `storeId ${JSON.stringify(storage.storeId)} is not a valid PVE storage ID`);
    context.verify.that(storage.plugin.configSchema.safeParse(storage.config).success, "the factory's storage.config does not pass the plugin's own configSchema");
    context.verify.equal(storage.plugin.supports, context.supports, "the plugin's supports differs from the declaration the kit was given");
    const listed = await context.verify.succeeds(storage.listVolumes(), 'listVolumes() on a fresh storage threw');
    context.verify.equal(listed, [], 'a fresh storage from the factory already lists backups; the factory must return an empty storage every call');
    await expectModuleRefReopens(context, storage);
  },
};

/**
 * The container backup child re-imports the plugin from `moduleRef` and opens the storage from
 * the same storeId and config: that storage must be the one under test (same type and
 * declaration), or the child runs a different provider than every other scenario.
 */
async function expectModuleRefReopens(context: ScenarioContext, storage: BackupStorage): Promise<void> {
  const { module, exportName } = storage.plugin.moduleRef;
  const specifier = isAbsolute(module) ? pathToFileURL(module).href : module;
  const loaded = (await context.verify.succeeds(import(specifier) as Promise<Record<string, unknown>>, `importing the plugin's moduleRef module '${module}' failed; the container backup child loads the plugin from it`)) as Record<string, unknown>;
  const plugin = loaded[exportName] as BackupStoragePlugin | undefined;
  context.verify.that(typeof plugin?.open === 'function', `moduleRef names export '${exportName}' of '${module}', which is not a storage plugin; the container backup child could not load the provider`);
  const reopened = await context.verify.succeeds(async () => plugin!.open(storage.storeId, plugin!.configSchema.parse(storage.config)), `the plugin re-imported from moduleRef could not open storage '${storage.storeId}' with its config (what the container backup child does)`);
  context.verify.equal(
    { type: reopened.plugin.type, supports: reopened.plugin.supports },
    { type: storage.plugin.type, supports: storage.plugin.supports },
    `the storage the container backup child opens from moduleRef (${module}#${exportName}) is not the one under test: type or declaration differ`,
  );
}

const variants: Scenario = {
  id: 'factory.variants',
  title: 'factory honours the requested variant (VM mechanism)',
  kind: 'storage',
  axis: 'vmMechanism',
  async run(context) {
    const mechanism = context.variant.vmMechanism!;
    const storage = await context.open();
    const answer = await context.verify.succeeds(storage.newBackupProvider(() => {}).backupGetMechanism(100, 'qemu'), "backupGetMechanism(100, 'qemu') threw");
    context.verify.equal(answer, mechanism, `factory({ vmMechanism: '${mechanism}' }) returned a provider whose backupGetMechanism(100, 'qemu') is '${answer}'`);
  },
};

const isolation: Scenario = {
  id: 'factory.isolation',
  title: 'factory returns isolated storages and cleanup removes their data',
  kind: 'backup',
  axis: 'none',
  requires: needsGuests,
  async run(context) {
    const first = await context.factory({});
    let cleaned = false;
    try {
      const second = await context.open({});
      const backup = await smallBackup(context, first.storage, 100);
      const seen = await second.listVolumes();
      context.verify.equal(seen, [], `a backup made in one factory storage (${backup.volid}) is listed by another; every factory call must return an isolated storage`);
      const { path } = await first.storage.path(backup.volname);
      await first.cleanup();
      cleaned = true;
      const remains = await access(path).then(
        () => true,
        () => false,
      );
      context.verify.that(!remains, `cleanup() of a factory instance left ${path} behind`);
    } finally {
      if (!cleaned) await first.cleanup();
    }
  },
};

/** Checks of the factory itself: declaration, variants, isolation. */
export const factoryScenarios: readonly Scenario[] = [declaration, variants, isolation];
