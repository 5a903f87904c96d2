import { readFileSync } from 'node:fs';
import type { BackupStoragePlugin } from '@bp/api';
import { describeConfigSchema } from '../translate/config-schema.js';
import type { BridgeConfig } from './bridge-config.js';
import { BRIDGE_RUNTIME_FILE, moduleNames, type ModuleNames } from './module-names.js';
import { bridgeRuntimeSource, defaultServer } from './package-files.js';
import { providerModuleSource } from './provider-module.js';
import { pveOptions, pveProperties } from './pve-properties.js';
import { storageModuleSource } from './storage-module.js';

/** One file to write below the Perl library directory. */
export interface GeneratedFile {
  /** Relative to the Perl library directory (e.g. `PVE/Storage/Custom/BpDirPlugin.pm`). */
  path: string;
  content: string;
}

/** Options of {@link generatePerlModules}. */
export interface GenerateOptions {
  /** storage.cfg type; default the plugin's `type`. */
  type?: string;
  /** Plugin module as the server imports it; default the plugin's `moduleRef.module`. */
  module?: string;
  /** Default the plugin's `moduleRef.exportName`. */
  exportName?: string;
  /** Default `process.execPath`. */
  node?: string;
  /** Default this package's dist/server.js (or the sources through tsx). */
  server?: string;
  nodeArgs?: string[];
  /** Default `/run/bp-pve`. */
  runDir?: string;
  /** Default 300. */
  idleSeconds?: number;
}

/** The result of {@link generatePerlModules}. */
export interface GeneratedModules {
  names: ModuleNames;
  bridge: BridgeConfig;
  files: GeneratedFile[];
}

/**
 * The Perl side of one storage plugin: the storage plugin module, the provider module and the
 * shared runtime, ready to be written below a Perl library directory (`/usr/share/perl5`).
 */
export function generatePerlModules(plugin: BackupStoragePlugin, options: GenerateOptions = {}): GeneratedModules {
  const names = moduleNames(options.type ?? plugin.type);
  const server = defaultServer();
  const bridge: BridgeConfig = {
    type: names.type,
    node: options.node ?? process.execPath,
    nodeArgs: options.nodeArgs ?? (options.server ? [] : server.nodeArgs),
    server: options.server ?? server.server,
    module: options.module ?? plugin.moduleRef.module,
    exportName: options.exportName ?? plugin.moduleRef.exportName,
    runDir: options.runDir ?? '/run/bp-pve',
    idleSeconds: options.idleSeconds ?? 300,
  };
  const origin = `${bridge.module}#${bridge.exportName}`;
  const properties = describeConfigSchema(plugin.configSchema);
  return {
    names,
    bridge,
    files: [
      { path: names.storageFile, content: storageModuleSource({ names, bridge, origin, properties: pveProperties(properties, names.type), options: pveOptions(properties) }) },
      { path: names.providerFile, content: providerModuleSource({ names, bridge, origin }) },
      { path: BRIDGE_RUNTIME_FILE, content: readFileSync(bridgeRuntimeSource(), 'utf8') },
    ],
  };
}
