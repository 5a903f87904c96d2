import type { z } from 'zod';
import { BpError } from './bp-error.js';

/**
 * Parses `input` with a zod schema; a failure becomes `BP_INVALID_CONFIG` whose message names
 * each failing path, e.g. `prune-backups.keep-last: expected number (location: keep-last)`.
 */
export function parseWithSchema<Schema extends z.ZodType>(schema: Schema, input: unknown, what: string): z.output<Schema> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => {
    const location = issue.path.length > 0 ? issue.path.map(String).join('.') : '(root)';
    return `${issue.message} (location: ${location})`;
  });
  throw new BpError('BP_INVALID_CONFIG', `invalid ${what}: ${issues.join('; ')}`, {
    cause: result.error,
    details: { issues: result.error.issues.map((issue) => ({ path: issue.path.map(String), message: issue.message })) },
  });
}
