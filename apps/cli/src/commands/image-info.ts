import { BpError } from '@bp/api';
import { execa } from 'execa';

/** The virtual size of a disk image (`qemu-img info`), in bytes. */
export async function imageVirtualSize(image: string, format: 'qcow2' | 'raw'): Promise<number> {
  try {
    const { stdout } = await execa('qemu-img', ['info', '--output=json', '-U', '-f', format, image]);
    const info = JSON.parse(stdout) as { 'virtual-size'?: number };
    if (typeof info['virtual-size'] !== 'number') throw new Error('no virtual-size in qemu-img info');
    return info['virtual-size'];
  } catch (error) {
    throw new BpError('BP_QEMU_FAILED', `cannot read disk image ${image} as ${format} (${(error as Error).message.split('\n')[0]}); check the path and --disk format`, {
      cause: error,
      details: { image, format },
    });
  }
}
