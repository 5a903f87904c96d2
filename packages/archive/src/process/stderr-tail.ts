const MAX_STDERR = 8192;

/** Keeps the tail of a tool's stderr, enough to explain a failure without unbounded memory. */
export class StderrTail {
  private text = '';

  append(chunk: string): void {
    this.text = (this.text + chunk).slice(-MAX_STDERR);
  }

  toString(): string {
    return this.text.trim();
  }
}
