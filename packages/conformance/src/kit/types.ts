import type { BackupStorage, ContainerFormat, StorageSupports, VmBackupMechanism, VmBackupMode } from '@bp/api';

/**
 * The assertion object of the caller's test context (vitest's `expect`). The kit only uses
 * `expect(value, message)` with a handful of matchers, so any jest-compatible `expect` fits.
 */
export interface KitExpect {
  (actual: unknown, message?: string): KitAssertion;
}

/** The matchers the kit uses. */
export interface KitAssertion {
  toBe(expected: unknown): void;
  toEqual(expected: unknown): void;
}

/** The test context the kit needs from the caller's runner (vitest passes it to every test). */
export interface KitTestContext {
  /** Assertions bound to the running test. */
  expect: KitExpect;
  /** Marks the test skipped with a reason (vitest >= 3); the kit returns early when absent. */
  skip?: (note?: string) => void;
  /** Aborted when the runner times out or cancels the test. */
  signal?: AbortSignal;
}

/** A `test` function compatible with vitest's `test`/`it`: name, body, timeout in ms. */
export type KitTestFunction = (name: string, body: (context: KitTestContext) => Promise<void>, timeout?: number) => void;

/** A `describe` function compatible with vitest's `describe`; groups the registered tests. */
export type KitDescribeFunction = (name: string, body: () => void) => void;

/**
 * The configuration variant the kit asks the factory for, so that one provider is exercised in
 * every mode it declares. Unset fields mean "your default".
 */
export interface ProviderVariant {
  /** VM mechanism to configure (`vm-backup-mechanism`). */
  vmMechanism?: VmBackupMechanism;
  /** Container archive format to configure (`lxc-backup-mode`). */
  containerFormat?: ContainerFormat;
  /** Full or incremental VM backups (`vm-backup-mode`). */
  vmMode?: VmBackupMode;
}

/** What a factory call returns: a storage in a fresh, empty place, and how to remove it again. */
export interface ProviderInstance {
  storage: BackupStorage;
  /** Removes everything the storage created; called by the kit after each scenario. */
  cleanup(): Promise<void>;
}

/**
 * Returns a fresh storage (config + plugin bound to a storage ID) in a fresh directory on every
 * call, configured for `variant`. The kit checks this first.
 */
export type ProviderFactory = (variant: ProviderVariant) => Promise<ProviderInstance>;

/** Time limits per test in ms; raise them on slow machines. */
export interface KitTimeouts {
  /** Tests that only talk to the storage (default 60 s). */
  storage?: number;
  /** Tests that run backups and restores (default 240 s). */
  backup?: number;
}

/** Options of {@link testBackupProvider}. */
export interface KitOptions {
  /** The runner's `test` (vitest: `import { test } from 'vitest'`). */
  test: KitTestFunction;
  /** The runner's `describe`; without it the groups are prefixes of the test names. */
  describe?: KitDescribeFunction;
  factory: ProviderFactory;
  /**
   * What the provider supports. Default: the plugin's own `supports`, read from the first factory
   * call; scenarios the declaration rules out are then reported as skipped. When given, it must
   * equal the plugin's declaration (the kit checks) and undeclared scenarios are not registered.
   */
  supports?: StorageSupports;
  timeouts?: KitTimeouts;
}
