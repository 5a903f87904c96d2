/**
 * Backup times are whole seconds, and a guest's archive name carries its backup time: two backups
 * of one guest must start in different seconds. The host takes the time after the job starts, so
 * a job starting at the end of second T may name its backup T+1 — the gate therefore remembers
 * the second a job *ended* in, and the next job of that guest waits for a later one.
 */
export class BackupSecondGate {
  readonly #seconds = new Map<string, number>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  ) {}

  /** Waits until the current second is later than the last one recorded for `key`. */
  async before(key: string): Promise<void> {
    const last = this.#seconds.get(key);
    while (last !== undefined && this.#second() <= last) await this.sleep(100);
    this.#seconds.set(key, this.#second());
  }

  /** Records the second a job for `key` ended in. */
  after(key: string): void {
    this.#seconds.set(key, this.#second());
  }

  #second(): number {
    return Math.floor(this.now() / 1000);
  }
}
