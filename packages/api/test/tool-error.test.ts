import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { BpError } from '../src/errors/bp-error.js';
import { toolError } from '../src/errors/tool-error.js';

const options = { code: 'BP_QEMU_FAILED', tool: 'sh', what: 'Running the probe' } as const;

describe('toolError', () => {
  it('passes a BpError through', () => {
    const original = new BpError('BP_NOT_FOUND', 'gone');
    expect(toolError(original, options)).toBe(original);
  });

  it('puts the stderr and exit code of a failed run in the message and details', async () => {
    const error = await execa('sh', ['-c', 'echo "bad thing" >&2; exit 3']).catch((caught: unknown) => caught);
    const mapped = toolError(error, { ...options, details: { args: ['x'] } });
    expect(mapped.code).toBe('BP_QEMU_FAILED');
    expect(mapped.message).toBe('Running the probe failed (sh exit 3): bad thing');
    expect(mapped.details).toMatchObject({ tool: 'sh', exitCode: 3, stderr: 'bad thing', args: ['x'] });
  });

  it('names the Debian package of a missing tool', async () => {
    const error = await execa('qemu-img-not-here', []).catch((caught: unknown) => caught);
    expect(toolError(error, { ...options, tool: 'qemu-img-not-here' }).message).toBe('qemu-img-not-here is not installed; install it.');
    const mapped = toolError(Object.assign(new Error('spawn qemu-img ENOENT'), { code: 'ENOENT' }), { ...options, tool: 'qemu-img' });
    expect(mapped.code).toBe('BP_MISSING_TOOLS');
    expect(mapped.message).toMatch(/install the Debian package qemu-utils/);
  });

  it('reports a run cancelled by its signal as BP_ABORTED', async () => {
    const controller = new AbortController();
    const run = execa('sleep', ['10'], { cancelSignal: controller.signal });
    controller.abort();
    const mapped = toolError(await run.catch((caught: unknown) => caught), options);
    expect(mapped.code).toBe('BP_ABORTED');
  });
});
