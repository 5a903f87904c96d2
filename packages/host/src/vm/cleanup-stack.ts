/** A step that undoes part of a setup; `success` is what the caller reports. */
export type CleanupStep = (success: boolean) => Promise<void>;

/**
 * Undo steps collected while something is set up, run in reverse order. Every step runs even if
 * an earlier one fails; the first error is rethrown at the end (the others go to `onError`).
 */
export class CleanupStack {
  private readonly steps: { what: string; step: CleanupStep }[] = [];

  constructor(private readonly onError: (what: string, error: unknown) => void) {}

  /** Registers an undo step; `what` names it in error reports. */
  push(what: string, step: CleanupStep): void {
    this.steps.push({ what, step });
  }

  /** Runs and forgets all steps, last first. */
  async run(success: boolean): Promise<void> {
    let first: unknown;
    let failed = false;
    for (let entry = this.steps.pop(); entry; entry = this.steps.pop()) {
      try {
        await entry.step(success);
      } catch (error) {
        this.onError(entry.what, error);
        if (!failed) first = error;
        failed = true;
      }
    }
    if (failed) throw first;
  }
}
