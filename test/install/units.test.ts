// The post-install step's pure parts: filesystem magic, the bounded line splitter, path resolution
// confined to the image, the mount lookup for KERNEL_DIR, and slot letters.

import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { slotLetter } from '../../src/daemon/actions/install-action.ts';
import { isEspFsType, mountHolding } from '../../src/install/esp.ts';
import { detectFilesystem } from '../../src/install/fs-magic.ts';
import { resolveInImage } from '../../src/install/image-path.ts';
import { LineSplitter, MAX_LINE_BYTES } from '../../src/install/line-logger.ts';

describe('detectFilesystem', () => {
  const at = (offset: number, bytes: number[]) => {
    const b = Buffer.alloc(0x10100);
    Buffer.from(bytes).copy(b, offset);
    return b;
  };
  it.each([
    ['squashfs', at(0, [0x68, 0x73, 0x71, 0x73])],
    ['erofs', at(1024, [0xe2, 0xe1, 0xf5, 0xe0])],
    ['ext4', at(1080, [0x53, 0xef])],
    ['btrfs', at(0x10040, [...Buffer.from('_BHRfS_M')])],
  ])('%s', (fs, header) => expect(detectFilesystem(header)).toBe(fs));
  it('zeros, random bytes and short headers are no filesystem', () => {
    expect(detectFilesystem(Buffer.alloc(0x10100))).toBeUndefined();
    expect(detectFilesystem(Buffer.alloc(3))).toBeUndefined();
    expect(detectFilesystem(at(1080, [0x53, 0xef]).subarray(0, 1081))).toBeUndefined();
  });
});

describe('LineSplitter', () => {
  it('splits across chunks, cuts long lines, stops logging after the limit but keeps counting', () => {
    const lines: string[] = [];
    const s = new LineSplitter((l) => lines.push(l), 3);
    s.push(Buffer.from('a\nb'));
    s.push(Buffer.from('c\r\n'));
    s.push(Buffer.alloc(MAX_LINE_BYTES + 10, 'x'));
    s.push(Buffer.from('\nd\ne\nf'));
    s.end();
    expect(lines).toEqual(['a', 'bc', `${'x'.repeat(MAX_LINE_BYTES)} [cut at ${MAX_LINE_BYTES} bytes]`]);
    expect(s.stats).toEqual({ bytes: 3 + 3 + MAX_LINE_BYTES + 10 + 6, lines: 6, linesLogged: 3 });
  });
});

describe('resolveInImage', () => {
  it('follows absolute and relative links inside the image and never out of it', async () => {
    const root = mkdtempSync(join(tmpdir(), 'ue-image-path-'));
    try {
      mkdirSync(join(root, 'boot'));
      writeFileSync(join(root, 'boot', 'vmlinuz-6.1'), 'k');
      symlinkSync('vmlinuz-6.1', join(root, 'boot', 'vmlinuz'));
      symlinkSync('/boot/vmlinuz', join(root, 'abs'));
      symlinkSync('../../../../etc/passwd', join(root, 'escape'));
      symlinkSync('/etc/hostname', join(root, 'host'));
      expect(await resolveInImage(root, '/boot/vmlinuz')).toBe(join(root, 'boot', 'vmlinuz-6.1'));
      expect(await resolveInImage(root, '/abs')).toBe(join(root, 'boot', 'vmlinuz-6.1'));
      expect(await resolveInImage(root, '/escape')).toBeUndefined(); // /etc/passwd of the image: absent
      expect(await resolveInImage(root, '/host')).toBeUndefined();
      expect(await resolveInImage(root, '/nope/x')).toBeUndefined();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('mountHolding and isEspFsType', () => {
  const info = [
    '22 1 8:1 / / rw - ext4 /dev/sda9 rw',
    '30 22 8:2 / /boot rw - vfat /dev/sda1 rw',
    '31 22 0:50 / /tmp/x/esp rw - fuse.fusefat /dev/loop3p1 rw',
  ].join('\n');
  it('finds the longest mount point holding a path', () => {
    expect(mountHolding(info, '/boot/flatcar')).toMatchObject({ mountPoint: '/boot', fsType: 'vfat' });
    expect(mountHolding(info, '/bootx/flatcar')).toMatchObject({ mountPoint: '/', fsType: 'ext4' });
    expect(mountHolding(info, '/tmp/x/esp/flatcar')).toMatchObject({ mountPoint: '/tmp/x/esp', fsType: 'fuse.fusefat' });
  });
  it('takes the mount stacked last on a mount point (an automount and the ESP it mounted)', () => {
    const stacked = `${info}\n40 22 0:60 / /efi rw - autofs systemd-1 rw\n41 40 8:1 / /efi rw - vfat /dev/sda1 rw`;
    expect(mountHolding(stacked, '/efi/flatcar')).toMatchObject({ mountPoint: '/efi', fsType: 'vfat' });
    expect(mountHolding(`${info}\n40 22 0:60 / /efi rw - autofs systemd-1 rw`, '/efi/flatcar')).toMatchObject({ fsType: 'autofs' });
  });

  it('knows the ESP types', () => {
    expect(['vfat', 'msdos', 'fuseblk', 'fuse.fusefat'].map(isEspFsType)).toEqual([true, true, true, true]);
    expect(['ext4', 'tmpfs', 'overlay'].map(isEspFsType)).toEqual([false, false, false]);
  });
});

describe('slotLetter', () => {
  const s = { slotAPartition: 3, slotBPartition: 4 };
  it('maps the slots to vmlinuz-a and vmlinuz-b', () => {
    expect(slotLetter(3, 'x', s)).toBe('a');
    expect(slotLetter(4, 'x', s)).toBe('b');
    expect(slotLetter(7, 'USR-B', s)).toBe('b');
    expect(() => slotLetter(7, 'OEM', s)).toThrow(/neither SLOT_A_PARTITION nor SLOT_B_PARTITION/);
  });
});
