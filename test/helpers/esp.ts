// A disk image (the project's codec) whose EFI system partition holds a real FAT file system made
// by mkfs.vfat, for the boot backend tests (mtools reaches it without a mount).

import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { createDiskImage, type DiskImage } from '../../src/slots/index.ts';
import { requireTool } from './tools.ts';

/** Creates `dir`/disk.img with an 8 MiB FAT ESP on partition 1 and the usual USR-A/USR-B slots. */
export async function diskWithEsp(dir: string, efiSizeBytes = 8 * 1024 * 1024): Promise<DiskImage> {
  requireTool('mkfs.vfat');
  requireTool('mcopy');
  const disk = join(dir, 'disk.img');
  const image = await createDiskImage(disk, { efiSizeBytes, usrSizeBytes: 1024 * 1024, overwrite: true });
  const fat = join(dir, 'esp.fat');
  execFileSync('mkfs.vfat', ['-C', fat, String(efiSizeBytes / 1024)], { stdio: 'ignore' });
  const esp = image.partitions.find((p) => p.partition === 1);
  if (!esp) throw new Error('no ESP');
  const fd = openSync(disk, 'r+');
  try {
    writeSync(fd, readFileSync(fat), 0, undefined, esp.byteOffset);
  } finally {
    closeSync(fd);
  }
  rmSync(fat);
  return image;
}

/** Lists a directory of the ESP with mtools (an outside check of what the engine wrote). */
export function mdir(disk: string, offsetBytes: number, dir: string): string[] {
  const out = execFileSync('mdir', ['-b', '-i', `${disk}@@${offsetBytes}`, `::${dir}`], { encoding: 'utf8', env: { ...process.env, MTOOLS_SKIP_CHECK: '1' } });
  return out
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => l.slice(l.lastIndexOf('/') + 1))
    .sort();
}
