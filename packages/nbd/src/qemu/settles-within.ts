/**
 * Resolves true once `promise` settles, or false after `ms`, whichever comes first. Unlike a race
 * against `timers/promises` sleep, the timer is cleared when the promise wins, so a settled wait
 * never keeps the process alive for the rest of the grace period.
 */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    const settled = promise.then(
      () => true,
      () => true,
    );
    return await Promise.race([settled, expired]);
  } finally {
    clearTimeout(timer);
  }
}
