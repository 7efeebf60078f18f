// The ESP as a FAT partition inside an image file, read and written with mtools (no mount, no root,
// no vfat driver). In-place rewrites find the file's clusters with mshowfat and write those sectors
// of the image directly, as GRUB's save_env writes the sectors of grubenv.

import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UpdateEngineError } from '../errors.ts';
import { execArgv } from '../platform/exec.ts';
import { decodeGptEntries } from '../slots/gpt-entry.ts';
import { readGptTable } from '../slots/gpt-reader.ts';
import { openFsDisk } from '../slots/fs-disk.ts';
import { PARTITION_TYPE } from '../slots/disk-image.ts';
import { espPath, type Esp } from './esp.ts';

const env = { ...process.env, MTOOLS_SKIP_CHECK: '1', MTOOLS_NO_VFAT: '1' };

/** Byte offset of the ESP on `disk`: partition `partition`, or the first EFI system partition. */
export async function findEspOffset(disk: string, partition?: number): Promise<{ offsetBytes: number; partition: number }> {
  const d = await openFsDisk(disk, {});
  try {
    const table = await readGptTable(d);
    const entries = decodeGptEntries(table.entries, table.primary);
    const esp = partition !== undefined ? entries.find((e) => e.partition === partition) : entries.find((e) => e.typeGuid === PARTITION_TYPE.efiSystem);
    if (!esp)
      throw new UpdateEngineError(
        'ERR_BOOT_CONFIG',
        partition !== undefined ? `Partition ${partition} does not exist on "${disk}"` : `No EFI system partition on "${disk}"`,
      );
    return { offsetBytes: esp.firstLba * table.geometry.sectorSizeBytes, partition: esp.partition };
  } finally {
    await d.close();
  }
}

export class MtoolsEsp implements Esp {
  constructor(
    readonly image: string,
    readonly offsetBytes: number,
    readonly partition: number,
  ) {}

  static async open(disk: string, partition?: number): Promise<MtoolsEsp> {
    const { offsetBytes, partition: p } = await findEspOffset(disk, partition);
    return new MtoolsEsp(disk, offsetBytes, p);
  }

  get where(): string {
    return `"${this.image}" partition ${this.partition}`;
  }

  private get drive(): string {
    return `${this.image}@@${this.offsetBytes}`;
  }

  private async run(argv: string[], what: string, okMissing = false): Promise<string | undefined> {
    let r;
    try {
      r = await execArgv(argv, { env, timeoutMs: 60_000 });
    } catch (e) {
      throw new UpdateEngineError('ERR_BOOT_CONFIG', `Cannot run ${argv[0]} (install mtools) to ${what}: ${(e as Error).message}`, { cause: e });
    }
    if (r.exitCode === 0) return r.stdout;
    if (okMissing && /not found/i.test(r.stderr)) return undefined;
    throw new UpdateEngineError('ERR_BOOT_CONFIG', `Cannot ${what} on the ESP at ${this.where}: ${r.stderr.trim() || `${argv[0]} exited ${r.exitCode}`}`);
  }

  async read(path: string): Promise<Buffer | undefined> {
    const dir = await mkdtemp(join(tmpdir(), 'ue-esp-'));
    try {
      const out = join(dir, 'f');
      const ok = await this.run(['mcopy', '-n', '-i', this.drive, `::/${espPath(path)}`, out], `read "${path}"`, true);
      if (ok === undefined) return undefined;
      const fh = await open(out, 'r');
      try {
        return await fh.readFile();
      } finally {
        await fh.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  async write(path: string, data: Buffer | string): Promise<void> {
    const rel = espPath(path);
    const parts = rel.split('/');
    for (let i = 1; i < parts.length; i += 1) {
      const d = `::/${parts.slice(0, i).join('/')}`;
      await this.run(['mmd', '-D', 's', '-i', this.drive, d], `create "${d}"`).catch(() => undefined);
    }
    const dir = await mkdtemp(join(tmpdir(), 'ue-esp-'));
    try {
      const src = join(dir, 'f');
      await writeFile(src, data);
      await this.run(['mcopy', '-o', '-D', 'o', '-i', this.drive, src, `::/${rel}`], `write "${path}"`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  async overwriteInPlace(path: string, data: Buffer): Promise<void> {
    const rel = espPath(path);
    const out = (await this.run(['mshowfat', '-i', this.drive, `::/${rel}`], `locate "${path}"`)) ?? '';
    const fh = await open(this.image, 'r+');
    try {
      const boot = Buffer.alloc(512);
      await fh.read(boot, 0, 512, this.offsetBytes);
      const geo = fatGeometry(boot);
      const needed = Math.ceil(data.length / geo.clusterBytes);
      const list = clustersIn(out);
      if (list.length < needed) throw new UpdateEngineError('ERR_BOOT_CONFIG', `"${path}" on the ESP at ${this.where} is smaller than ${data.length} bytes`);
      for (let i = 0; i < needed; i += 1) {
        const chunk = data.subarray(i * geo.clusterBytes, (i + 1) * geo.clusterBytes);
        await fh.write(chunk, 0, chunk.length, this.offsetBytes + geo.dataStartBytes + ((list[i] as number) - 2) * geo.clusterBytes);
      }
      await fh.sync();
    } finally {
      await fh.close();
    }
  }

  async list(dir: string): Promise<string[]> {
    const rel = espPath(dir);
    const out = await this.run(['mdir', '-b', '-i', this.drive, `::/${rel}`], `list "${dir}"`, true);
    if (out === undefined) return [];
    return out
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '')
      .map((l) => l.slice(l.lastIndexOf('/') + 1))
      .sort();
  }

  async rename(from: string, to: string): Promise<void> {
    await this.run(['mren', '-i', this.drive, `::/${espPath(from)}`, `::/${espPath(to)}`], `rename "${from}" to "${to}"`);
  }
}

/** Cluster numbers from mshowfat's "<282-7210> <9000>" ranges, in file order. */
export function clustersIn(mshowfat: string): number[] {
  const list: number[] = [];
  const ranges = mshowfat.slice(mshowfat.indexOf('<'));
  for (const m of ranges.matchAll(/<(\d+)(?:-(\d+))?>/g)) {
    const from = Number(m[1]);
    const to = m[2] !== undefined ? Number(m[2]) : from;
    for (let c = from; c <= to; c += 1) list.push(c);
  }
  return list;
}

/** Where a FAT12/16/32 volume's clusters start, from its boot sector (pure). */
export function fatGeometry(boot: Buffer): { clusterBytes: number; dataStartBytes: number } {
  const bytesPerSector = boot.readUInt16LE(11);
  const sectorsPerCluster = boot.readUInt8(13);
  const reserved = boot.readUInt16LE(14);
  const fats = boot.readUInt8(16);
  const rootEntries = boot.readUInt16LE(17);
  const fatSize = boot.readUInt16LE(22) || boot.readUInt32LE(36);
  if (boot.readUInt16LE(510) !== 0xaa55 || ![512, 1024, 2048, 4096].includes(bytesPerSector) || sectorsPerCluster === 0 || fats === 0) {
    throw new UpdateEngineError('ERR_BOOT_CONFIG', 'The ESP does not hold a FAT file system (bad boot sector)');
  }
  const rootSectors = Math.ceil((rootEntries * 32) / bytesPerSector);
  return { clusterBytes: bytesPerSector * sectorsPerCluster, dataStartBytes: (reserved + fats * fatSize + rootSectors) * bytesPerSector };
}
