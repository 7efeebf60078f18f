// One simulated machine of the crash lab, in its own directory: the disk image, STATE_DIR, RUN_DIR,
// identity files and the version each slot holds (meta.json). It runs the real daemon in-process,
// reboots through the boot simulator, and reads back what the hardening checks compare.

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { randomBytes, randomUUID, createHash } from 'node:crypto';
import { mkdir, open, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { settingsSchema } from '../../src/config/schema.ts';
import { runDaemon } from '../../src/daemon/main.ts';
import type { EngineDeps } from '../../src/daemon/engine-deps.ts';
import type { PersistedState } from '../../src/daemon/state-store.ts';
import { labIdentityPaths, labSettingsInput } from '../../src/demo/lab.ts';
import { exitCodeFor, UpdateEngineError } from '../../src/errors.ts';
import type { IdentityPaths } from '../../src/platform/identity.ts';
import { silentLogger } from '../../src/platform/logger.ts';
import { bootSimulate, openFsDisk, readGptTable, readSlots, type BootChoice, type Slot } from '../../src/slots/index.ts';
import type { TableRegions } from './crash-protocol.ts';

/** What the lab knows of the machine beyond its files: the booted slot and each slot's version. */
export interface MachineMeta {
  booted: number;
  /** Partition number -> the version whose image it holds (installed, or flipped and booted once). */
  slotVersions: Record<string, string>;
}

export interface DaemonResult {
  exitCode: number;
  error?: UpdateEngineError;
}

const run = promisify(execFile);

/** Copies a file or (with a trailing `/.`) a directory tree with cp, keeping image files sparse; never blocks the event loop. */
export async function sparseCopy(from: string, to: string): Promise<void> {
  await run('cp', ['-a', '--sparse=always', from, to]);
}

export class CrashMachine {
  /** The disk image (in the machine's directory unless moved with relocateDisk). */
  disk: string;
  readonly stateDir: string;
  readonly runDir: string;

  private constructor(
    readonly dir: string,
    public meta: MachineMeta,
    readonly serverUrl: string,
  ) {
    this.disk = join(dir, 'disk.img');
    this.stateDir = join(dir, 'state');
    this.runDir = join(dir, 'run');
  }

  /** A new machine in `dir` with a copy of `templateDisk`. */
  static async create(dir: string, templateDisk: string, meta: MachineMeta, serverUrl: string): Promise<CrashMachine> {
    await mkdir(join(dir, 'state'), { recursive: true });
    await sparseCopy(templateDisk, join(dir, 'disk.img'));
    await writeFile(join(dir, 'machine-id'), `${randomBytes(16).toString('hex')}\n`);
    await writeFile(join(dir, 'boot_id'), `${randomUUID()}\n`);
    const machine = new CrashMachine(dir, meta, serverUrl);
    await machine.saveMeta();
    return machine;
  }

  /** A copy of the machine in `from`, in `to`, talking to `serverUrl`. */
  static async clone(from: string, to: string, serverUrl: string): Promise<CrashMachine> {
    await mkdir(to, { recursive: true });
    await sparseCopy(`${from}/.`, to);
    const meta = JSON.parse(await readFile(join(to, 'meta.json'), 'utf8')) as MachineMeta;
    return new CrashMachine(to, meta, serverUrl);
  }

  /** Moves the disk image to `path` (e.g. onto a tiny file system), keeping it sparse. */
  async relocateDisk(path: string): Promise<void> {
    await sparseCopy(this.disk, path);
    await rm(this.disk);
    this.disk = path;
  }

  private async saveMeta(): Promise<void> {
    await writeFile(join(this.dir, 'meta.json'), `${JSON.stringify(this.meta)}\n`);
  }

  get booted(): number {
    return this.meta.booted;
  }

  /** The running version: what the booted slot holds. */
  get version(): string {
    const v = this.meta.slotVersions[String(this.meta.booted)];
    if (v === undefined) throw new Error(`The lab does not know what partition ${this.meta.booted} holds`);
    return v;
  }

  /** Settings input (field -> text) for this machine, as booted now. */
  settingsInput(extra: Record<string, string> = {}): Record<string, string> {
    return labSettingsInput(
      { server: this.serverUrl, version: this.version, disk: this.disk, booted: this.meta.booted, stateDir: this.stateDir, runDir: this.runDir },
      extra,
    );
  }

  identityPaths(): IdentityPaths {
    return labIdentityPaths(this.dir);
  }

  /** One daemon cycle in this process (runDaemon --once); an UpdateEngineError becomes its exit code. */
  async daemonOnce(extra: Record<string, string> = {}, overrides?: Partial<EngineDeps>): Promise<DaemonResult> {
    try {
      const exitCode = await runDaemon(settingsSchema.parse(this.settingsInput(extra)), {
        once: true,
        logger: silentLogger(),
        signal: new AbortController().signal,
        identityPaths: this.identityPaths(),
        ...(overrides ? { overrides } : {}),
      });
      return { exitCode };
    } catch (e) {
      if (e instanceof UpdateEngineError) return { exitCode: exitCodeFor(e.code), error: e };
      throw e;
    }
  }

  /** A reboot: a flipped version now counts as that slot's, /run is cleared, the bootloader picks a slot. */
  async reboot(): Promise<BootChoice> {
    const pending = (await this.state())?.pendingUpdate;
    if (pending) this.meta.slotVersions[String(pending.partition)] = pending.version;
    await rm(this.runDir, { recursive: true, force: true });
    await writeFile(join(this.dir, 'boot_id'), `${randomUUID()}\n`);
    const choice = await bootSimulate(this.disk);
    this.meta.booted = choice.partition;
    await this.saveMeta();
    return choice;
  }

  async slots(disk = this.disk): Promise<Slot[]> {
    return (await readSlots(disk, { slotAPartition: 3, slotBPartition: 4 })).usrSlots;
  }

  async slot(partition: number, disk = this.disk): Promise<Slot> {
    const slot = (await this.slots(disk)).find((s) => s.partition === partition);
    if (!slot) throw new Error(`No slot ${partition} on "${disk}"`);
    return slot;
  }

  /** The persisted state, or undefined before the daemon wrote one. */
  async state(): Promise<PersistedState | undefined> {
    try {
      return JSON.parse(await readFile(join(this.stateDir, 'state.json'), 'utf8')) as PersistedState;
    } catch {
      return undefined;
    }
  }

  /** The payload resume point, or undefined. */
  async checkpoint(): Promise<{ nextBlock: number; targetDescription: string } | undefined> {
    try {
      return JSON.parse(await readFile(join(this.stateDir, 'payload-checkpoint.json'), 'utf8')) as { nextBlock: number; targetDescription: string };
    } catch {
      return undefined;
    }
  }

  /** SHA-256 (hex) of the first `lengthBytes` of a slot on `disk` (default: this machine's disk). */
  async slotSha256(partition: number, lengthBytes: number, disk = this.disk): Promise<string> {
    const slot = await this.slot(partition, disk);
    const fh = await open(disk, 'r');
    try {
      const buf = Buffer.alloc(lengthBytes);
      const { bytesRead } = await fh.read(buf, 0, lengthBytes, slot.byteOffset);
      return createHash('sha256').update(buf.subarray(0, bytesRead)).digest('hex');
    } finally {
      await fh.close();
    }
  }

  /** Byte ranges of the GPT (primary at the start, backup at the end). */
  async tableRegions(): Promise<TableRegions> {
    const d = await openFsDisk(this.disk);
    try {
      const table = await readGptTable(d);
      const ss = table.geometry.sectorSizeBytes;
      return { tableEndBytes: table.primary.firstUsableLba * ss, backupStartBytes: (table.primary.lastUsableLba + 1) * ss };
    } finally {
      await d.close();
    }
  }
}
