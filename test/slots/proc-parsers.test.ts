// Kernel command line and /proc/mounts parsing for slot detection.
import { describe, expect, it } from 'vitest';
import { parseKernelCmdline, usrMountSource } from '../../src/slots/proc-parsers.ts';

describe('kernel command line', () => {
  it('reads KEY=VALUE parameters, the last one winning, up to --', () => {
    const p = parseKernelCmdline(
      'BOOT_IMAGE=/vmlinuz mount.usr=/dev/mapper/usr verity.usr=PARTUUID=7130C94A-213A-4E5A-8E26-6CCE9662F132 rootflags=rw quiet root=/dev/vda9 root=LABEL=ROOT -- usr=/dev/sdz3\n',
    );
    expect(p.get('mount.usr')).toBe('/dev/mapper/usr');
    expect(p.get('verity.usr')).toBe('PARTUUID=7130C94A-213A-4E5A-8E26-6CCE9662F132');
    expect(p.get('root')).toBe('LABEL=ROOT');
    expect(p.has('usr')).toBe(false);
    expect(p.has('quiet')).toBe(false);
  });

  it('understands double quotes around values with spaces', () => {
    expect(parseKernelCmdline('a="x y" usr="/dev/vda3"').get('a')).toBe('x y');
    expect(parseKernelCmdline('a="x y" usr="/dev/vda3"').get('usr')).toBe('/dev/vda3');
  });
});

describe('mounts table', () => {
  it('finds the device of the last mount at /usr', () => {
    const mounts = ['/dev/vda9 / ext4 rw 0 0', '/dev/vda3 /usr ext4 ro 0 0', '/dev/mapper/usr /usr ext4 ro 0 0', 'tmpfs /tmp tmpfs rw 0 0'].join('\n');
    expect(usrMountSource(mounts)).toBe('/dev/mapper/usr');
  });

  it('decodes octal escapes and ignores sources that are not paths', () => {
    expect(usrMountSource('/dev/disk/by-label/My\\040Disk /usr ext4 ro 0 0\n')).toBe('/dev/disk/by-label/My Disk');
    expect(usrMountSource('overlay /usr overlay ro 0 0\n')).toBeUndefined();
    expect(usrMountSource('/dev/vda3 /usr/share ext4 ro 0 0\n')).toBeUndefined();
    expect(usrMountSource('')).toBeUndefined();
  });
});
