import { BpError } from '@bp/api';

/** Compression of a tar archive, chosen by name. */
export type TarCompression = 'none' | 'zstd' | 'gzip';

interface Compressor {
  readonly compress: readonly string[];
  readonly decompress: readonly string[];
  /** tar's own flag to (de)compress through the same tool. */
  readonly tarFlag: string | undefined;
  readonly suffixes: readonly string[];
}

const COMPRESSORS: Record<TarCompression, Compressor> = {
  none: { compress: [], decompress: [], tarFlag: undefined, suffixes: ['.tar'] },
  zstd: { compress: ['zstd', '-q', '-c', '-T0'], decompress: ['zstd', '-q', '-d', '-c'], tarFlag: '--zstd', suffixes: ['.tar.zst', '.tar.zstd', '.tzst'] },
  gzip: { compress: ['gzip', '-c'], decompress: ['gzip', '-d', '-c'], tarFlag: '--gzip', suffixes: ['.tar.gz', '.tgz'] },
};

/** The compressor of `name`; throws `BP_INVALID_ARGUMENT` for an unknown name. */
export function compressorFor(name: TarCompression): Compressor {
  const compressor = COMPRESSORS[name];
  if (!compressor) {
    throw new BpError('BP_INVALID_ARGUMENT', `Unknown compression "${String(name)}"; use one of ${Object.keys(COMPRESSORS).join(', ')}.`, {
      details: { compression: name },
    });
  }
  return compressor;
}

/**
 * The compression of an archive judged by its file name, as pct restore does; throws
 * `BP_ARCHIVE_UNSAFE` for a name that does not look like a tar archive.
 */
export function compressionFromFileName(path: string): TarCompression {
  const lower = path.toLowerCase();
  for (const [name, compressor] of Object.entries(COMPRESSORS) as [TarCompression, Compressor][]) {
    if (compressor.suffixes.some((suffix) => lower.endsWith(suffix))) return name;
  }
  throw new BpError('BP_ARCHIVE_UNSAFE', `${path} does not look like a tar archive (.tar, .tar.zst, .tar.gz); rename it or pass the compression explicitly.`, {
    details: { path },
  });
}
