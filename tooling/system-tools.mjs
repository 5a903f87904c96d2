/** The system tools bp drives, and the Debian 12 package that provides each. */
export const SYSTEM_TOOLS = [
  ['qemu-img', 'qemu-utils'],
  ['qemu-nbd', 'qemu-utils'],
  ['qemu-io', 'qemu-utils'],
  ['qemu-storage-daemon', 'qemu-system-common'],
  ['qemu-system-x86_64', 'qemu-system-x86'],
  ['nbdinfo', 'libnbd-bin'],
  ['nbdfuse', 'libnbd-bin'],
  ['nbdcopy', 'libnbd-bin'],
  ['nbdsh', 'python3-libnbd'], // with libnbd's Python module, used by the incremental peer of tooling/bench.mjs
  ['nbdkit', 'nbdkit'],
  ['mksquashfs', 'squashfs-tools'],
  ['unsquashfs', 'squashfs-tools'],
  ['squashfuse', 'squashfuse'],
  ['fusermount3', 'fuse3'],
  ['tar', 'tar'],
  ['zstd', 'zstd'],
  ['getfacl', 'acl'],
  ['setfacl', 'acl'],
  ['getfattr', 'attr'],
  ['setfattr', 'attr'],
  ['flock', 'util-linux'],
  // bp files / mount / restore --path: partition tables, filesystem probes, loop mounts, FAT in userspace;
  // the mkfs tools and sgdisk build the guest-like test disks.
  ['sfdisk', 'fdisk'],
  ['blkid', 'util-linux'],
  ['losetup', 'mount'],
  ['mdir', 'mtools'],
  ['mcopy', 'mtools'],
  ['sgdisk', 'gdisk'],
  ['mkfs.ext4', 'e2fsprogs'],
  ['mkfs.xfs', 'xfsprogs'],
  ['mkfs.vfat', 'dosfstools'],
  ['perl', 'perl'],
  ['prove', 'perl'],
];

/** Perl modules the PVE bridge (@bp/pve) and its prove tests load, and their Debian 12 packages. */
export const PERL_MODULES = [
  ['JSON', 'libjson-perl'],
  ['Test::More', 'perl-modules-5.36'],
];
