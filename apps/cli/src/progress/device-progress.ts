import type { CommandContext } from '../args/command-spec.js';
import type { ProgressBar } from './progress.js';

/**
 * Runs `operation` with a per-device percent callback drawn as one bar per device (one at a
 * time, as devices are copied in order). All bars are stopped when the operation ends.
 */
export async function withDeviceProgress<T>(context: CommandContext, operation: (onProgress: (device: string, percent: number) => void) => Promise<T>): Promise<T> {
  let current: { device: string; bar: ProgressBar } | undefined;
  const onProgress = (device: string, percent: number): void => {
    if (current?.device !== device) {
      current?.bar.stop();
      current = { device, bar: context.progress(device, 100, 'percent') };
    }
    current.bar.update(Math.max(0, Math.min(100, percent)));
  };
  try {
    return await operation(onProgress);
  } finally {
    current?.bar.stop();
  }
}
