import { createWriteStream } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { BpError, type ContainerBackupInfo, type ContainerFormat, type LogFunction } from '@bp/api';
import { compileExclusions, CREATE_TAR_FLAGS, createSquashfsArchive } from '@bp/archive';
import { execa } from 'execa';
import { throttleStream } from '../util/throttle.js';

/** Sources as tar sees them: always `./...` (suspend mode passes `.`, spec H9). */
export function normalizeSources(sources: readonly string[]): string[] {
  return sources.map((source) => (source === '.' || source === './' ? './' : source.startsWith('./') ? source : `./${source.replace(/^\/+/, '')}`));
}

/**
 * Writes `archivePath` as a tar of `info.sources` relative to `info.directory`: one file system
 * per source, exclusions as vzdump (anchored at the container root with a leading `/`),
 * `lost+found` always excluded, paced to `info.bandwidthLimit` bytes/s.
 */
export async function writeTarArchive(archivePath: string, info: ContainerBackupInfo, excludePatterns: readonly string[], log: LogFunction, signal?: AbortSignal): Promise<void> {
  const exclusions = compileExclusions(excludePatterns);
  const args = ['cpf', '-', '--totals', ...CREATE_TAR_FLAGS, ...exclusions.tarArguments, '--', ...normalizeSources(info.sources)];
  const tar = execa('tar', args, { cwd: info.directory, stdin: 'ignore', buffer: { stdout: false, stderr: true }, reject: false, cancelSignal: signal });
  try {
    const report = info.onProgress;
    const onPassed = report ? (bytesDone: number) => report({ bytesDone }) : undefined;
    await pipeline(tar.stdout, throttleStream(info.bandwidthLimit ?? 0, onPassed), createWriteStream(archivePath, { mode: 0o600 }));
  } catch (error) {
    tar.kill();
    await tar.catch(() => undefined);
    await rm(archivePath, { force: true });
    throw new BpError('BP_ARCHIVE_FAILED', `writing ${archivePath} failed: ${(error as Error).message}; check free space on the storage`, { cause: error });
  }
  const result = await tar;
  const stderr = String(result.stderr ?? '').trim();
  // Exit code 1: files changed while being read; the archive is complete (vzdump accepts it too).
  if (result.exitCode === 1) log('warn', `tar: ${stderr}`);
  else if (result.exitCode !== 0) {
    await rm(archivePath, { force: true });
    throw new BpError('BP_ARCHIVE_FAILED', `tar failed (exit ${String(result.exitCode)}): ${stderr}`, { details: { args } });
  }
  for (const line of stderr.split('\n')) if (line.startsWith('Total bytes written')) log('info', line);
}

/**
 * Writes `archivePath` as a squashfs image of `info.sources` (not the whole directory, unlike the
 * example) with the same exclusions, paced to `info.bandwidthLimit` bytes/s of reads.
 */
export async function writeSquashfsArchive(archivePath: string, info: ContainerBackupInfo, excludePatterns: readonly string[], signal?: AbortSignal): Promise<void> {
  await createSquashfsArchive({
    directory: info.directory,
    sources: normalizeSources(info.sources),
    exclude: excludePatterns,
    output: archivePath,
    ...(info.bandwidthLimit ? { bandwidthLimit: info.bandwidthLimit } : {}),
    ...(signal ? { signal } : {}),
  });
}

/** getfacl escapes special characters in names as `\ooo`. */
function unescapeGetfaclName(name: string): string {
  return name.replace(/\\([0-7]{3})/g, (_match, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/**
 * Records the POSIX ACLs of the sources (squashfs cannot store them) as a `getfacl` dump that
 * `setfacl --restore` applies again. Entries of excluded paths are left out. Writes nothing and
 * returns false when no file has an extended ACL.
 */
export async function recordAcls(dumpPath: string, info: ContainerBackupInfo, excludePatterns: readonly string[], log: LogFunction): Promise<boolean> {
  const exclusions = compileExclusions(excludePatterns);
  const result = await execa('getfacl', ['-R', '-P', '-p', '-n', '--skip-base', '--', ...normalizeSources(info.sources)], { cwd: info.directory, reject: false, stdin: 'ignore' });
  if (result.exitCode !== 0 && result.stderr.trim() !== '') log('warn', `getfacl: ${result.stderr.trim()}`);
  const kept = result.stdout
    .split(/\n\n+/)
    .filter((block) => {
      const name = /^# file: (.*)$/m.exec(block)?.[1];
      return name !== undefined && !exclusions.excludes(unescapeGetfaclName(name));
    });
  if (kept.length === 0) return false;
  await writeFile(dumpPath, `${kept.join('\n\n')}\n\n`, { mode: 0o600 });
  return true;
}

/** The archive file name of a container format. */
export function containerArchiveFile(format: ContainerFormat): string {
  return format === 'tar' ? 'archive.tar' : 'archive.sqfs';
}
