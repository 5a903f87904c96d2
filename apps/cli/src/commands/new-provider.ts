import type { CommandSpec } from '../args/command-spec.js';
import { absolutePath, oneOf, stringValue } from '../args/values.js';
import { usageError } from '../errors/usage-error.js';
import { PROVIDER_TEMPLATES, type ProviderTemplate } from '../scaffold/templates.js';
import { writeProviderPackage } from '../scaffold/write-provider.js';
import { CLI_VERSION } from '../version.js';

const TEMPLATE_NAMES = Object.keys(PROVIDER_TEMPLATES) as ProviderTemplate[];

/** `bp new-provider <dir> [--template vm|container|storage-only]`. */
export const newProviderCommand: CommandSpec = {
  name: 'new-provider',
  summary: 'Create a provider package: @bp/api, the conformance kit in its tests, a README',
  usage: '<dir> [options]',
  description:
    `Templates: ${TEMPLATE_NAMES.map((name) => `${name} (${PROVIDER_TEMPLATES[name]})`).join('\n           ')}\n` +
    'Then: cd <dir> && npm install && npm test (as root: the kit runs QEMU). Inside a bp checkout the\n' +
    'package links to its packages with file: dependencies (build the checkout first).',
  options: [
    { name: 'template', type: 'string', argument: `<${TEMPLATE_NAMES.join('|')}>`, description: 'what the provider backs up', defaultText: 'vm' },
    { name: 'name', type: 'string', argument: '<package>', description: 'npm package name', defaultText: 'the directory name' },
  ],
  positionals: { min: 1, max: 1, names: 'a target directory' },
  examples: ['bp new-provider ./my-provider', 'bp new-provider ./ct-provider --template container --name @acme/bp-ct'],
  failureCode: 'BP_INVALID_ARGUMENT',
  async run(context) {
    const dirText = context.positionals[0];
    if (dirText === undefined || dirText === '') throw usageError('give the directory for the new package');
    const template = oneOf(stringValue(context.values, 'template'), TEMPLATE_NAMES, '--template') ?? 'vm';
    const name = stringValue(context.values, 'name');
    const dir = absolutePath(context.io.cwd, dirText);
    const files = await writeProviderPackage({ dir, template, ...(name === undefined ? {} : { name }), cliVersion: CLI_VERSION });
    return {
      json: { dir, template, files },
      text: [`Created a ${template} provider in ${dir}:`, ...files.map((file) => `  ${file}`), '', 'Next:', `  cd ${dirText}`, '  npm install', '  npm test'].join('\n'),
    };
  },
};
