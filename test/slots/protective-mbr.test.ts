// The protective MBR of new images.
import { describe, expect, it } from 'vitest';
import { encodeProtectiveMbr, hasProtectiveMbr } from '../../src/slots/protective-mbr.ts';

describe('protective MBR', () => {
  it('covers the disk from LBA 1 with one 0xEE partition and ends in 55 AA', () => {
    const mbr = encodeProtectiveMbr(83968);
    expect(mbr.length).toBe(512);
    expect(mbr[446 + 4]).toBe(0xee);
    expect(mbr.readUInt32LE(446 + 8)).toBe(1);
    expect(mbr.readUInt32LE(446 + 12)).toBe(83967);
    expect(mbr.subarray(510).toString('hex')).toBe('55aa');
    expect(mbr.subarray(462, 510).every((b) => b === 0)).toBe(true);
    expect(hasProtectiveMbr(mbr)).toBe(true);
  });

  it('caps the size at 0xFFFFFFFF sectors for disks past 2 TiB', () => {
    expect(encodeProtectiveMbr(2 ** 33).readUInt32LE(446 + 12)).toBe(0xffffffff);
  });

  it('does not see one in an empty sector or one without 0xEE', () => {
    expect(hasProtectiveMbr(Buffer.alloc(512))).toBe(false);
    const mbr = encodeProtectiveMbr(1000);
    mbr[446 + 4] = 0x83;
    expect(hasProtectiveMbr(mbr)).toBe(false);
  });
});
