// The protective MBR in LBA 0 of a GPT disk (pure): one partition of type 0xEE covering the disk
// from LBA 1, and the 0x55AA boot signature. Only new images get one; existing ones are left alone.

/** Builds the 512-byte protective MBR for a disk of `totalSectors` sectors. */
export function encodeProtectiveMbr(totalSectors: number): Buffer {
  const mbr = Buffer.alloc(512);
  const entry = 446;
  mbr[entry] = 0x00; // not bootable
  mbr.set([0x00, 0x02, 0x00], entry + 1); // CHS of LBA 1
  mbr[entry + 4] = 0xee; // GPT protective
  mbr.set([0xff, 0xff, 0xff], entry + 5); // CHS beyond reach
  mbr.writeUInt32LE(1, entry + 8);
  mbr.writeUInt32LE(Math.min(totalSectors - 1, 0xffffffff), entry + 12);
  mbr[510] = 0x55;
  mbr[511] = 0xaa;
  return mbr;
}

/** True when `sector0` holds an MBR signature and a 0xEE (GPT protective) partition. */
export function hasProtectiveMbr(sector0: Buffer): boolean {
  if (sector0.length < 512 || sector0[510] !== 0x55 || sector0[511] !== 0xaa) return false;
  for (let i = 0; i < 4; i++) if (sector0[446 + i * 16 + 4] === 0xee) return true;
  return false;
}
