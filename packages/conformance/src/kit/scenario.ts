import { chmod, mkdir, mkdtemp, readdir, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BackupStorage, StorageSupports, VmBackupMode } from '@bp/api';
import { runSeed, SeededRandom } from '../fixtures/random.js';
import { descendantProcesses, findLeftovers, isClean, removeLeftovers } from './leftovers.js';
import type { KitExpect, ProviderFactory, ProviderVariant } from './types.js';
import { conformanceError, Verifier } from './verify.js';

/** Which configuration axis a scenario is repeated over. */
export type ScenarioAxis = 'none' | 'vmMechanism' | 'containerFormat';

/** One conformance scenario: a named behaviour, when it applies, and how to check it. */
export interface Scenario {
  /** Stable id, e.g. `vm.full-round-trip`. */
  id: string;
  /** Test title; names the behaviour checked. */
  title: string;
  /** Storage-only scenarios get the short timeout, the others the backup timeout. */
  kind: 'storage' | 'backup';
  /** Repeated once per declared VM mechanism or container format, or run once. */
  axis: ScenarioAxis;
  /** The `vm-backup-mode` the scenario needs (default: the provider's default). */
  vmMode?: VmBackupMode;
  /** Why the declaration rules the scenario out, or undefined when it applies. */
  requires?(supports: StorageSupports): string | undefined;
  run(context: ScenarioContext): Promise<void>;
}

/** What a running scenario gets. */
export interface ScenarioContext {
  readonly expect: KitExpect;
  readonly verify: Verifier;
  /** The variant this run is for (mechanism / format / mode). */
  readonly variant: ProviderVariant;
  readonly supports: StorageSupports;
  /** A fresh directory for fixtures, removed afterwards. */
  readonly scratch: string;
  /** The run's seed: every fixture's data and write positions come from it. */
  readonly seed: number;
  /** The seeded stream fixtures draw from. */
  readonly random: SeededRandom;
  /** Records a fact failure reports carry (e.g. disk sizes), so a failure can be reproduced. */
  note(key: string, value: string): void;
  readonly signal: AbortSignal | undefined;
  /** A fresh storage from the factory (this run's variant unless overridden); removed afterwards. */
  open(variant?: ProviderVariant): Promise<BackupStorage>;
  /** Registers a cleanup step; steps run in reverse order after the scenario, also on failure. */
  defer(step: () => Promise<void> | void): void;
  /** The factory itself, for checks of the factory. */
  readonly factory: ProviderFactory;
  /** Ends the scenario as not applicable to this provider (reported as skipped, with the reason). */
  notApplicable(reason: string): never;
}

const notApplicableBrand = Symbol.for('@bp/conformance.NotApplicable');

/**
 * Thrown by {@link ScenarioContext.notApplicable}. Recognise it with {@link NotApplicable.isInstance}
 * (a brand, like `BpError.isInstance`), which works across duplicate copies of this package.
 */
export class NotApplicable extends Error {
  private readonly [notApplicableBrand] = true;

  constructor(readonly reason: string) {
    super(reason);
    this.name = 'NotApplicable';
  }

  /** True for a NotApplicable from any copy of @bp/conformance. */
  static isInstance(value: unknown): value is NotApplicable {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[notApplicableBrand] === true;
  }
}

/** Arguments of {@link runScenario}. */
export interface RunScenarioOptions {
  expect: KitExpect;
  factory: ProviderFactory;
  supports: StorageSupports;
  variant?: ProviderVariant;
  signal?: AbortSignal;
  /** The seed of the fixtures (default: `BP_CONFORMANCE_SEED`, else random); failures report it. */
  seed?: number;
}

/**
 * Runs one scenario outside any runner registration, cleaning up everything it created. Throws
 * what the scenario throws. Use it to reuse single scenarios in a provider's own tests, or to
 * show that a deliberately broken provider fails one.
 */
export async function runScenario(scenario: Scenario, options: RunScenarioOptions): Promise<void> {
  // Short: Unix socket paths of the host's snapshot access below it must stay within 108 bytes.
  const scratch = await mkdtemp(join(tmpdir(), 'bp-cf-'));
  // Reachable by a container's mapped root (uid 100000), as PVE's snapshot mount is.
  await chmod(scratch, 0o755);
  const tmp = join(scratch, 't');
  await mkdir(tmp, { mode: 0o1777 });
  await chmod(tmp, 0o1777);
  // When @bp/host runs from TypeScript sources (its own tests), the container child compiles
  // through tsx, whose cache lives in TMPDIR: share the machine's cache instead of rebuilding it.
  const tsxCache = join(tmpdir(), 'tsx-0');
  if (await stat(tsxCache).then((info) => info.isDirectory(), () => false)) await symlink(tsxCache, join(tmp, 'tsx-0'));
  // tsx creates its cache itself when the machine has none yet; it is removed with the scratch directory.
  const kitEntries = new Set([...(await readdir(tmp)), 'tsx-0']);
  const steps: Array<() => Promise<void> | void> = [];
  const variant: ProviderVariant = { ...options.variant, ...(scenario.vmMode ? { vmMode: scenario.vmMode } : {}) };
  const seed = options.seed ?? runSeed();
  const facts = new Map<string, string>();
  const context: ScenarioContext = {
    expect: options.expect,
    verify: new Verifier(options.expect),
    variant,
    supports: options.supports,
    scratch,
    seed,
    random: new SeededRandom(seed),
    note: (key, value) => void facts.set(key, value),
    signal: options.signal,
    defer: (step) => void steps.push(step),
    factory: options.factory,
    notApplicable: (reason) => {
      throw new NotApplicable(reason);
    },
    open: async (override) => {
      let instance;
      try {
        instance = await options.factory({ ...variant, ...override });
      } catch (error) {
        throw conformanceError(`factory(${JSON.stringify({ ...variant, ...override })}) failed`, error);
      }
      steps.push(() => instance.cleanup());
      return instance.storage;
    },
  };
  // Everything the provider (and the kit) puts in the temp directory lands in this scenario's
  // own one, so leftovers are attributable; processes and mounts are compared with before.
  const processesBefore = await descendantProcesses();
  const savedTmpdir = process.env.TMPDIR;
  process.env.TMPDIR = tmp;
  let failure: unknown;
  try {
    await scenario.run(context);
  } catch (error) {
    failure = error;
  } finally {
    for (const step of steps.reverse()) {
      try {
        await step();
      } catch {
        // Cleanup failures must not hide the scenario's verdict; the factory check covers cleanup.
      }
    }
    if (savedTmpdir === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = savedTmpdir;
  }
  const leftovers = await findLeftovers(tmp, scratch, processesBefore, kitEntries);
  await removeLeftovers(scratch, processesBefore);
  await rm(scratch, { recursive: true, force: true }).catch(() => {});
  if (failure === undefined && !isClean(leftovers)) {
    failure = conformanceError(
      `the scenario left ${[
        leftovers.files.length > 0 ? `temp files ${leftovers.files.map((name) => JSON.stringify(name)).join(', ')}` : '',
        leftovers.mounts.length > 0 ? `mounts ${leftovers.mounts.join(', ')}` : '',
        leftovers.processes.length > 0 ? `processes ${leftovers.processes.join(', ')}` : '',
      ]
        .filter(Boolean)
        .join('; ')} behind; every temp directory, mount and process a call creates must be gone once it (or its cleanup call) returned`,
    );
  }
  if (failure !== undefined) throw withReproduction(failure, scenario, variant, seed, facts);
}

/** Appends the scenario, variant, seed and recorded facts to a failure, so it can be reproduced. */
function withReproduction(failure: unknown, scenario: Scenario, variant: ProviderVariant, seed: number, facts: ReadonlyMap<string, string>): unknown {
  if (!(failure instanceof Error) || NotApplicable.isInstance(failure)) return failure;
  const details = [...facts].map(([key, value]) => `${key}: ${value}`).join('; ');
  const suffix = `\n[${scenario.id} ${JSON.stringify(variant)}; seed ${seed} (BP_CONFORMANCE_SEED=${seed} reproduces the data)${details ? `; ${details}` : ''}]`;
  try {
    failure.message += suffix;
  } catch {
    return failure;
  }
  return failure;
}
