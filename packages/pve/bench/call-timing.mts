// The timing loop of the call benchmarks: three warm-up calls, then `count` timed ones.

/** Milliseconds of each of `count` calls of `run`, sorted, after three untimed warm-up calls. */
export async function timeCalls(count: number, run: () => unknown): Promise<number[]> {
  for (let i = 0; i < 3; i += 1) await run();
  const ms: number[] = [];
  for (let i = 0; i < count; i += 1) {
    const start = process.hrtime.bigint();
    await run();
    ms.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return ms.sort((a, b) => a - b);
}

/** Median and 99th percentile of sorted milliseconds, three decimals each. */
export function medianAndP99(sorted: readonly number[]): [string, string] {
  return [sorted[Math.floor((sorted.length - 1) / 2)]!.toFixed(3), sorted[Math.floor((sorted.length - 1) * 0.99)]!.toFixed(3)];
}
