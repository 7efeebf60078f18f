// The EFI system partition as the boot backends see it: a few file operations on paths relative to
// the ESP's root. DirEsp works on a mounted ESP (a directory); MtoolsEsp (mtools-esp.ts) on a
// partition of an image file, without a mount.

import { open, readdir, readFile, rename, mkdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { UpdateEngineError } from '../errors.ts';
import { writeFileAtomic } from '../platform/atomic-file.ts';

export interface Esp {
  /** Where the ESP is, for messages ("/boot", "disk.img partition 1"). */
  readonly where: string;
  /** The file's bytes, or undefined when it does not exist. */
  read(path: string): Promise<Buffer | undefined>;
  /** Creates or replaces a whole file (parent directories created), as atomically as the medium allows. */
  write(path: string, data: Buffer | string): Promise<void>;
  /**
   * Overwrites an existing file of exactly `data.length` bytes in place, in the sectors it occupies,
   * then syncs: what GRUB's save_env does to grubenv. Throws when the size differs.
   */
  overwriteInPlace(path: string, data: Buffer): Promise<void>;
  /** Names in a directory ([] when it does not exist). */
  list(dir: string): Promise<string[]>;
  /** Renames a file within its directory (the BLS boot counter). */
  rename(from: string, to: string): Promise<void>;
}

/** ESP-relative path ("/loader/entries/x.conf") -> its parts; rejects "..". */
export function espPath(path: string): string {
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.some((p) => p === '..')) throw new UpdateEngineError('ERR_INTERNAL', `ESP path "${path}" leaves the ESP`);
  return parts.join('/');
}

const espError = (where: string, what: string, e: unknown): UpdateEngineError =>
  new UpdateEngineError('ERR_BOOT_CONFIG', `Cannot ${what} on the ESP at ${where}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });

/** A mounted ESP (or any directory standing in for one). */
export class DirEsp implements Esp {
  constructor(readonly root: string) {}

  get where(): string {
    return `"${this.root}"`;
  }

  private full(path: string): string {
    return join(this.root, espPath(path));
  }

  async read(path: string): Promise<Buffer | undefined> {
    try {
      return await readFile(this.full(path));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw espError(this.where, `read "${path}"`, e);
    }
  }

  async write(path: string, data: Buffer | string): Promise<void> {
    try {
      await mkdir(dirname(this.full(path)), { recursive: true });
      await writeFileAtomic(this.full(path), data);
    } catch (e) {
      throw espError(this.where, `write "${path}"`, e);
    }
  }

  async overwriteInPlace(path: string, data: Buffer): Promise<void> {
    let fh;
    try {
      fh = await open(this.full(path), 'r+');
      const { size } = await fh.stat();
      if (size !== data.length) throw new Error(`it holds ${size} bytes, expected ${data.length}`);
      await fh.write(data, 0, data.length, 0);
      await fh.sync();
    } catch (e) {
      throw espError(this.where, `rewrite "${path}" in place`, e);
    } finally {
      await fh?.close();
    }
  }

  async list(dir: string): Promise<string[]> {
    try {
      return (await readdir(this.full(dir))).sort();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw espError(this.where, `list "${dir}"`, e);
    }
  }

  async rename(from: string, to: string): Promise<void> {
    try {
      await rename(this.full(from), this.full(to));
      const dir = await open(dirname(this.full(to)), 'r');
      try {
        await dir.sync();
      } finally {
        await dir.close();
      }
    } catch (e) {
      throw espError(this.where, `rename "${from}" to "${to}"`, e);
    }
  }

  /** True when the directory exists. */
  async exists(): Promise<boolean> {
    return stat(this.root).then(
      (s) => s.isDirectory(),
      () => false,
    );
  }
}
