package PVE::Storage::Plugin;

# STAND-IN, not Proxmox code: the smallest base class the generated storage modules need to
# compile and run outside PVE, written from the spec (pve-backup-provider.md, section 2). The real
# class is a PVE::SectionConfig with default implementations; the generated module overrides
# every method PVE calls on a backup-provider storage, so the stand-in provides none of them.

use strict;
use warnings;

1;
