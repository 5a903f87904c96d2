export { createTarArchive, type ArchiveProgress, type CreateTarOptions, type CreateTarResult } from './create-tar.js';
export { extractTarArchive, type ExtractTarOptions, type ExtractTarResult } from './extract-tar.js';
export { listTarArchive, type ListTarOptions, type TarMember, type TarMemberType } from './list-tar.js';
export { scanTarArchive, TarSafetyCheck, type ScanTarOptions, type TarScan, type UnsafeMember } from './scan-tar.js';
export { compressionFromFileName, type TarCompression } from './compression.js';
export { COMMON_TAR_FLAGS, CREATE_TAR_FLAGS, EXTRACT_TAR_FLAGS } from './tar-flags.js';
