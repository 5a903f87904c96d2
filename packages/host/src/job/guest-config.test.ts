import { describe, expect, it } from 'vitest';
import { assembleContainerGuestConfig, assembleVmGuestConfig } from './guest-config.js';
import { renderNotesTemplate } from './notes-template.js';

describe('assembleVmGuestConfig (qemu-server assemble)', () => {
  it('keeps the main section, drops lock/parent/unused and sections, appends one map line per disk', () => {
    const config = [
      'name: vm',
      'lock: backup',
      'parent: snap1',
      'scsi0: local-lvm:vm-100-disk-0,size=8G',
      'tpmstate0: /dev/zvol/tpm,size=4M',
      'unused0: local-lvm:vm-100-disk-9',
      '#qmdump#map:old:drive-old:x:raw:',
      '',
      '[snap1]',
      'scsi0: local-lvm:vm-100-disk-0,size=4G',
      '',
    ].join('\n');
    const text = assembleVmGuestConfig(config, {
      kind: 'images',
      disks: [
        { virtdev: 'scsi0', image: '/i/a.qcow2', format: 'qcow2' },
        { virtdev: 'tpmstate0', image: '/i/tpm.raw', format: 'raw' },
      ],
    });
    expect(text).toBe(
      'name: vm\nscsi0: local-lvm:vm-100-disk-0,size=8G\ntpmstate0: /dev/zvol/tpm,size=4M\n\n' +
        '#qmdump#map:scsi0:drive-scsi0:local-lvm:qcow2:\n#qmdump#map:tpmstate0:drive-tpmstate0-backup::raw:\n',
    );
  });

  it('container config keeps unused mount points but drops lock and snapshots', () => {
    expect(assembleContainerGuestConfig('hostname: ct\nlock: backup\nunused0: local:vol\n[vzdump]\nhostname: old\n')).toBe('hostname: ct\nunused0: local:vol\n');
  });
});

describe('renderNotesTemplate (vzdump generate_notes)', () => {
  const vars = { guestname: 'web', vmid: 100, node: 'pve1', cluster: 'standalone node' };

  it('unescapes \\n and \\\\, replaces the four variables, leaves others', () => {
    expect(renderNotesTemplate('{{guestname}} ({{vmid}})\\n{{node}}/{{cluster}} \\\\ {{other}}', vars)).toBe('web (100)\npve1/standalone node \\ {{other}}');
  });

  it('rejects other escapes', () => {
    expect(() => renderNotesTemplate('a\\tb', vars)).toThrow(/unexpected escape character 't'/);
  });
});
