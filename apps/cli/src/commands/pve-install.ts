import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BpError } from '@bp/api';
import { installPerlModules, moduleNames, uninstallPerlModules } from '@bp/pve';
import type { CommandSpec } from '../args/command-spec.js';
import { absolutePath, stringValue } from '../args/values.js';
import { usageError } from '../errors/usage-error.js';
import { defaultPerlDir, perlModulesFor, storageCfgStanza } from './pve-plugin.js';

const perlDirOption = {
  name: 'perl-dir',
  type: 'string',
  argument: '<dir>',
  description: "Perl library directory PVE loads plugins from (BP_PVE_PERL_DIR overrides the default)",
  defaultText: '/usr/share/perl5',
} as const;

/** `bp pve install <plugin-package>`. */
export const pveInstallCommand: CommandSpec = {
  name: 'pve install',
  summary: 'Make a storage plugin package a Proxmox VE storage type (generated Perl modules)',
  usage: '<plugin-package> [options]',
  description:
    'Writes PVE::Storage::Custom::<Name>Plugin, PVE::BackupProvider::Plugin::<Name> and BP::PVE::Bridge below the Perl directory; ' +
    'they forward every call to the plugin running in Node (@bp/pve). <plugin-package> is a package name bp can import or the path of its module file. ' +
    'Restart pvedaemon, pveproxy, pvestatd and pvescheduler afterwards and add the printed stanza to /etc/pve/storage.cfg.',
  options: [
    { name: 'type', type: 'string', argument: '<name>', description: 'storage.cfg type', defaultText: "the plugin's type" },
    { name: 'export', type: 'string', argument: '<name>', description: 'the plugin export, when the package exports several', defaultText: 'the only plugin export' },
    perlDirOption,
  ],
  positionals: { min: 1, max: 1, names: 'a plugin package' },
  examples: ['bp pve install @bp/dir-example', 'bp pve install @bp/dir-example --type bp-dir --perl-dir /tmp/bp-perl5'],
  failureCode: 'BP_INVALID_CONFIG',
  async run(context) {
    const spec = context.positionals[0] ?? '';
    const generated = await perlModulesFor(spec, context.io.cwd, { type: stringValue(context.values, 'type'), exportName: stringValue(context.values, 'export') });
    const perlDir = absolutePath(context.io.cwd, stringValue(context.values, 'perl-dir') ?? defaultPerlDir());
    const files = await installPerlModules(generated.files, perlDir);
    const stanza = storageCfgStanza(generated.names.type, 'backup1', generated.plugin);
    const json = { type: generated.names.type, perlDir, files, module: generated.bridge.module, exportName: generated.bridge.exportName, storageCfg: stanza };
    const text = [
      `Installed storage type ${generated.names.type} (${generated.bridge.module}#${generated.bridge.exportName}):`,
      ...files.map((file) => `  ${file}`),
      'Restart PVE to load it: systemctl restart pvedaemon pveproxy pvestatd pvescheduler',
      'Then add a storage to /etc/pve/storage.cfg, e.g.:',
      stanza,
    ].join('\n');
    return { json, text };
  },
};

/** `bp pve uninstall <type>`. */
export const pveUninstallCommand: CommandSpec = {
  name: 'pve uninstall',
  summary: 'Remove the Proxmox VE modules of a storage type installed with `bp pve install`',
  usage: '<type> [options]',
  description: 'Backups on storages of that type stay where they are; remove the storages from /etc/pve/storage.cfg first.',
  options: [perlDirOption],
  positionals: { min: 1, max: 1, names: 'a storage type' },
  examples: ['bp pve uninstall bp-dir', 'bp pve uninstall bp-dir --perl-dir /tmp/bp-perl5'],
  failureCode: 'BP_INVALID_CONFIG',
  async run(context) {
    const type = context.positionals[0] ?? '';
    if (!/^[a-z][a-z0-9-]*$/.test(type)) throw usageError(`storage type ${JSON.stringify(type)} is not valid: lowercase letters, digits and '-', starting with a letter`);
    const perlDir = absolutePath(context.io.cwd, stringValue(context.values, 'perl-dir') ?? defaultPerlDir());
    if (!existsSync(join(perlDir, moduleNames(type).storageFile))) {
      throw new BpError('BP_NOT_FOUND', `storage type ${type} is not installed in ${perlDir}; see the types in ${join(perlDir, 'PVE/Storage/Custom')}`, { details: { type, perlDir } });
    }
    const files = await uninstallPerlModules(type, perlDir);
    return { json: { type, perlDir, files }, text: [`Removed storage type ${type}:`, ...files.map((file) => `  ${file}`)].join('\n') };
  },
};
