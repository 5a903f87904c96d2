import { StderrTail } from '../process/stderr-tail.js';

/**
 * Sorts the stderr lines of `tar c -f - --totals [--verbose]`: member names (they start with
 * `./` because bp passes sources that way) count files, the totals line is kept, everything
 * else is tar's diagnostics.
 */
export class TarStderr {
  readonly diagnostics = new StderrTail();
  files = 0;
  totals: string | undefined;
  private pending = '';

  constructor(private readonly onFile?: () => void) {}

  push(chunk: Buffer | string): void {
    this.pending += chunk.toString();
    const lines = this.pending.split('\n');
    this.pending = lines.pop() ?? '';
    for (const line of lines) this.line(line);
  }

  end(): void {
    if (this.pending !== '') this.line(this.pending);
    this.pending = '';
  }

  /** Uncompressed bytes tar reports in its totals line. */
  get totalBytes(): number | undefined {
    const match = this.totals?.match(/^Total bytes (?:written|read): (\d+)/);
    return match ? Number(match[1]) : undefined;
  }

  private line(line: string): void {
    if (line.startsWith('./')) {
      this.files++;
      this.onFile?.();
    } else if (line.startsWith('Total bytes ')) this.totals = line;
    else if (line !== '') this.diagnostics.append(`${line}\n`);
  }
}
