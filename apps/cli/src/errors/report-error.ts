import { BpError } from '@bp/api';
import type { TextSink } from '../cli-io.js';

/** The `--json` document printed on stdout when a command fails. */
export interface ErrorJson {
  error: { code: string; message: string; details: Record<string, unknown> };
}

/** The JSON view of a failure (a BpError keeps its code, anything else is wrapped by the caller first). */
export function errorJson(error: BpError): ErrorJson {
  return { error: error.toJSON() };
}

function causeChain(error: unknown): string[] {
  const lines: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 8 && current instanceof Error; depth += 1) {
    lines.push(current.stack ?? `${current.name}: ${current.message}`);
    current = current.cause;
  }
  return lines;
}

/**
 * Prints a failure on stderr: `bp: BP_CODE: message`, a hint for usage errors, and with `--debug`
 * the details, the stack and every cause. Without `--debug` there is never a stack trace.
 */
export function reportError(stderr: TextSink, error: BpError, options: { debug: boolean; command?: string }): void {
  stderr.write(`bp: ${error.code}: ${error.message}\n`);
  if (error.details.usage === true) {
    const help = options.command ? `bp ${options.command} --help` : 'bp --help';
    stderr.write(`Run \`${help}\` for usage.\n`);
  } else if (!options.debug) {
    stderr.write('Run again with --debug for details.\n');
  }
  if (!options.debug) return;
  const { usage: _usage, ...details } = error.details;
  if (Object.keys(details).length > 0) stderr.write(`details: ${JSON.stringify(details, null, 2)}\n`);
  for (const [index, line] of causeChain(error).entries()) stderr.write(`${index === 0 ? '' : 'caused by: '}${line}\n`);
}
