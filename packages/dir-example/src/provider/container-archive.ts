import { rm, writeFile } from 'node:fs/promises';
import type { ContainerBackupInfo, ContainerFormat, LogFunction } from '@bp/api';
import { type ArchiveProgress, compileExclusions, createSquashfsArchive, createTarArchive, type CreateTarResult, normalizeSources } from '@bp/archive';
import { execa } from 'execa';
import { inInitialUserNamespace } from '../util/user-namespace.js';
import { GrowingFileChecksums } from '../verify/growing-file-checksums.js';
import { storeChecksums } from '../verify/stored-checksums.js';

/**
 * Writes `archivePath` as a tar of `info.sources` relative to `info.directory` with
 * `@bp/archive`'s {@link createTarArchive}: one file system per source, exclusions as vzdump
 * (anchored at the container root with a leading `/`), paced to `info.bandwidthLimit` bytes/s.
 * Files that changed while being read (tar's exit status 1) leave a complete archive and a warning,
 * as in vzdump.
 */
export async function writeTarArchive(archivePath: string, info: ContainerBackupInfo, excludePatterns: readonly string[], log: LogFunction, signal?: AbortSignal): Promise<void> {
  const report = info.onProgress;
  // Checksums count only when taken by the host's root (see readStoredChecksums); a provider that
  // runs as a container's mapped root leaves them to publication.
  const checksums = (await inInitialUserNamespace()) ? new GrowingFileChecksums() : undefined;
  let result: CreateTarResult;
  try {
    // A file output: unthrottled, tar writes it itself (a copy through this process costs twice
    // tar's own time); with a bandwidth limit the data flows through here to be paced.
    result = await createTarArchive({
      directory: info.directory,
      sources: info.sources,
      exclude: excludePatterns,
      output: archivePath,
      ...(info.bandwidthLimit ? { bandwidthLimit: info.bandwidthLimit } : {}),
      ...(report ? { onProgress: (progress: ArchiveProgress) => report({ bytesDone: progress.bytes }) } : {}),
      onFilesChanged: (diagnostics) => log('warn', `tar: ${diagnostics}`),
      ...(checksums ? { onOutputFile: (path: string) => checksums.follow(path) } : {}),
      ...(signal ? { signal } : {}),
    });
    if (checksums) await storeChecksums(archivePath, await checksums.finish());
  } catch (error) {
    await checksums?.close();
    await rm(archivePath, { force: true });
    throw error;
  }
  if (result.totals) log('info', result.totals);
}

/**
 * Writes `archivePath` as a squashfs image of `info.sources` (not the whole directory, unlike the
 * example) with the same exclusions, paced to `info.bandwidthLimit` bytes/s of reads.
 */
export async function writeSquashfsArchive(archivePath: string, info: ContainerBackupInfo, excludePatterns: readonly string[], signal?: AbortSignal): Promise<void> {
  await createSquashfsArchive({
    directory: info.directory,
    sources: info.sources,
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
