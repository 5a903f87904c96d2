import type { ParseArgsConfig } from 'node:util';

/** One command-line option: how to parse it and how to explain it. */
export interface OptionSpec {
  /** Long name without dashes, e.g. `bwlimit`. */
  name: string;
  type: 'string' | 'boolean';
  short?: string;
  /** May be given several times (values collected in order). */
  multiple?: boolean;
  /** Placeholder shown in help, e.g. `<rate>`. */
  argument?: string;
  description: string;
  /** Default, as shown in help. */
  defaultText?: string;
  /** Shown as `--no-<name>` in help (boolean options that default to on). */
  negatable?: boolean;
}

/** The `node:util` parseArgs option table for a list of specs. */
export function parseArgsOptions(specs: readonly OptionSpec[]): NonNullable<ParseArgsConfig['options']> {
  const options: NonNullable<ParseArgsConfig['options']> = {};
  for (const spec of specs) {
    options[spec.name] = {
      type: spec.type,
      ...(spec.short === undefined ? {} : { short: spec.short }),
      ...(spec.multiple ? { multiple: true } : {}),
    };
  }
  return options;
}

/** The left column of an option's help line, e.g. `-s, --storage <id>`. */
export function optionSignature(spec: OptionSpec): string {
  const long = spec.negatable ? `--no-${spec.name}` : `--${spec.name}`;
  const argument = spec.type === 'string' ? ` ${spec.argument ?? '<value>'}` : '';
  return `${spec.short ? `-${spec.short}, ` : '    '}${long}${argument}`;
}
