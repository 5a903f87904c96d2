import { BpError } from '@bp/api';
import { perlProvider, perlProviderFactory } from '@bp/pve';
import type { CommandSpec } from '../args/command-spec.js';
import { absolutePath, parseCount, stringValue, stringValues } from '../args/values.js';
import { runKit, type ScenarioOutcome } from '../conformance/run-kit.js';
import { usageError } from '../errors/usage-error.js';
import { formatDuration } from '../output/format.js';
import type { ConformanceJson } from '../output/json-types.js';
import { renderTable } from '../output/table.js';

/** `--config key=value` pairs as a storage config (values stay strings, as storage.cfg holds them). */
function configOf(pairs: readonly string[]): Record<string, string> {
  const config: Record<string, string> = {};
  for (const pair of pairs) {
    const match = /^([A-Za-z][A-Za-z0-9_-]*)=(.*)$/s.exec(pair);
    if (!match) throw usageError(`--config ${JSON.stringify(pair)} is not <key>=<value>`);
    if (match[1] === 'path') throw usageError('--config path=... is not allowed: every scenario gets a fresh, empty path of its own');
    config[match[1]!] = match[2]!;
  }
  return config;
}

function oneLine(text: string | undefined, width = 160): string {
  const first = (text ?? '').replace(/\s+/g, ' ').trim();
  return first.length > width ? `${first.slice(0, width - 1)}…` : first;
}

/** `bp conformance --perl-module <name>`. */
export const conformanceCommand: CommandSpec = {
  name: 'conformance',
  summary: 'Run the conformance kit against an existing Perl backup provider, without PVE',
  usage: '--perl-module <name> [--include <dir>]... [options]',
  description:
    'Loads a PVE storage plugin module (and through its new_backup_provider the provider class) in the Perl runner of @bp/pve and drives it the way PVE does, through every scenario of @bp/conformance: real QEMU exports for VMs, a container tree as the mapped root uid, hostile volume names. ' +
    'PVE modules the provider uses come from this machine when installed, else from the compatibility layer of @bp/pve. Every scenario gets a fresh, empty storage directory as `path`. ' +
    'Prints one row per scenario: pass, fail with the broken behaviour, or skip with the reason; exits 1 when any scenario failed. Needs root.',
  options: [
    { name: 'perl-module', type: 'string', argument: '<name>', description: 'the storage plugin module, e.g. PVE::Storage::Custom::MyPlugin' },
    { name: 'include', type: 'string', multiple: true, argument: '<dir>', description: 'a Perl include directory holding the modules (repeatable)' },
    { name: 'config', type: 'string', multiple: true, argument: '<key>=<value>', description: 'a storage.cfg option of every storage (repeatable)' },
    { name: 'scenario', type: 'string', multiple: true, argument: '<id>', description: 'run only this scenario (repeatable), e.g. vm.full-round-trip', defaultText: 'all' },
    { name: 'timeout', type: 'string', argument: '<seconds>', description: 'time limit of one Perl call', defaultText: '600' },
  ],
  positionals: { min: 0, max: 0, names: 'no positional arguments' },
  examples: [
    'bp conformance --perl-module PVE::Storage::Custom::MyPlugin --include /usr/local/src/my-plugin/src',
    'bp conformance --perl-module PVE::Storage::Custom::MyPlugin --include ./src --config vm-backup-mode=incremental --scenario vm.full-round-trip --json',
  ],
  failureCode: 'BP_CONFORMANCE',
  async run(context) {
    const module = stringValue(context.values, 'perl-module');
    if (!module) throw usageError('--perl-module <name> is required, e.g. --perl-module PVE::Storage::Custom::MyPlugin');
    if (!/^\w+(?:::\w+)*$/.test(module)) throw usageError(`--perl-module ${JSON.stringify(module)} is not a Perl module name`);
    const include = stringValues(context.values, 'include').map((dir) => absolutePath(context.io.cwd, dir));
    const config = configOf(stringValues(context.values, 'config'));
    const seconds = parseCount(stringValue(context.values, 'timeout'), '--timeout');
    if (seconds === 0) throw usageError('--timeout must be at least 1 second');
    const plugin = perlProvider({ module, include, config, ...(seconds === undefined ? {} : { timeoutMs: seconds * 1000 }) });
    context.log(`${module}: storage type ${plugin.spec.type}; supports ${JSON.stringify(plugin.supports)}`);
    let outcomes: ScenarioOutcome[];
    try {
      outcomes = await runKit({
        factory: perlProviderFactory(plugin),
        supports: plugin.supports,
        only: stringValues(context.values, 'scenario'),
        signal: context.signal,
        onOutcome: (outcome) => context.log(`${outcome.status} ${outcome.id}${outcome.variant ? ` [${outcome.variant}]` : ''}${outcome.status === 'pass' ? ` (${formatDuration(outcome.durationMs)})` : ''}`),
      });
    } finally {
      await plugin.close();
    }
    if (outcomes.length === 0) throw new BpError('BP_NOT_FOUND', 'no scenario was selected');
    const failed = outcomes.filter((outcome) => outcome.status === 'fail').length;
    const passed = outcomes.filter((outcome) => outcome.status === 'pass').length;
    const skipped = outcomes.length - failed - passed;
    const json: ConformanceJson = { module, include, type: plugin.spec.type, supports: { ...plugin.supports }, passed, failed, skipped, scenarios: outcomes };
    const table = renderTable(
      [
        { header: 'RESULT', value: (row: ScenarioOutcome) => row.status.toUpperCase() },
        { header: 'SCENARIO', value: (row: ScenarioOutcome) => `${row.id}${row.variant ? ` [${row.variant}]` : ''}` },
        { header: 'REASON', value: (row: ScenarioOutcome) => oneLine(row.reason) },
      ],
      outcomes,
    );
    const text = `${table}\n\n${passed} passed, ${failed} failed, ${skipped} skipped (${module}, storage type ${plugin.spec.type})`;
    return { json, text, exitCode: failed > 0 ? 1 : 0 };
  },
};
