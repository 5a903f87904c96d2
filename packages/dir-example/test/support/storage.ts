import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LogFunction, StorageConfigInput } from '@bp/api';
import { storageConfigSchema } from '@bp/api';
import { dirExamplePlugin, type DirBackupStorage } from '../../src/index.js';

export interface TestStorage {
  root: string;
  work: string;
  storage: DirBackupStorage;
  logs: string[];
  log: LogFunction;
  dispose(): Promise<void>;
}

/** A storage in a fresh temp dir plus a work dir for the simulated host. */
export async function createTestStorage(config: Partial<StorageConfigInput> = {}): Promise<TestStorage> {
  const base = await mkdtemp(join(tmpdir(), 'bp-dir-test-'));
  const root = join(base, 'store');
  const work = join(base, 'work');
  const { mkdir } = await import('node:fs/promises');
  await mkdir(root, { mode: 0o755 });
  await mkdir(work);
  const parsed = storageConfigSchema.parse({ path: root, ...config });
  const storage = dirExamplePlugin.open('store', parsed) as DirBackupStorage;
  const logs: string[] = [];
  return {
    root,
    work,
    storage,
    logs,
    log: (level, message) => void logs.push(`${level}: ${message}`),
    dispose: () => rm(base, { recursive: true, force: true }),
  };
}
