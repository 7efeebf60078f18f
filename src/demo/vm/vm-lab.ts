// A machine in a VM: the update lab's disk (slots holding ext4 file systems with their version, an
// ESP with stock GRUB or systemd-boot) booted by QEMU, and between boots the real daemon on the host
// working on the same image file, as a machine's engine would between reboots.

import { readFile, rm, writeFile } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { slotOfEntryId } from '../../boot/bls-store.ts';
import { createBootBackend } from '../../boot/create-boot-backend.ts';
import type { BootWriteHooks } from '../../boot/boot-backend.ts';
import { runDaemon } from '../../daemon/main.ts';
import { UpdateEngineError } from '../../errors.ts';
import { createLogger, type Logger } from '../../platform/logger.ts';
import { UpdateLab } from '../lab.ts';
import { bootVm, type VmBootResult } from './qemu-boot.ts';
import { vmAssets, type VmAssets } from './vm-assets.ts';
import { buildEsp, makeSlotImage, type VmBackend } from './vm-disk.ts';

const MiB = 1024 * 1024;
const LETTER_TO_PARTITION: Record<string, number> = { A: 3, B: 4 };

export interface VmLabOptions {
  dir: string;
  backend: VmBackend;
  logger?: Logger;
  signal?: AbortSignal;
}

interface LabState {
  pendingUpdate?: { version: string; partition: number };
  failedVersions?: Record<string, { code?: string; reason?: string }>;
  reportRollback?: boolean;
}

export class VmLab {
  readonly lab: UpdateLab;
  readonly serialLog: string;
  readonly boots: VmBootResult[] = [];
  private assets: VmAssets | undefined;
  private readonly logger: Logger;

  constructor(readonly options: VmLabOptions) {
    this.lab = new UpdateLab({
      dir: options.dir,
      initialVersion: '1.0.0',
      usrSizeBytes: 8 * MiB,
      imageSizeBytes: 6 * MiB,
      efiSizeBytes: 40 * MiB,
      makeImage: makeSlotImage,
    });
    this.serialLog = join(options.dir, 'serial.log');
    this.logger = options.logger ?? createLogger({ level: 'silent', name: 'update-engine' });
  }

  get disk(): string {
    return this.lab.disk;
  }

  /** The fresh machine: USR-A holds 1.0.0 and is good; the ESP holds the bootloader, kernels and config. */
  async setUp(): Promise<void> {
    this.assets = vmAssets();
    await rm(this.serialLog, { force: true });
    await this.lab.setUp();
    await buildEsp(this.disk, 40 * MiB, this.options.backend, this.assets);
  }

  settings(extra: Record<string, string> = {}) {
    return this.lab.settings({ bootBackend: this.options.backend, esp: 'auto', ...extra });
  }

  /** Runs `update-engine daemon --once` on the host against the disk image. */
  async daemonOnce(): Promise<number> {
    return runDaemon(this.settings(), {
      once: true,
      logger: this.logger,
      signal: this.options.signal ?? new AbortController().signal,
      identityPaths: this.lab.identityPaths(),
      transportOptions: { systemCaBundles: [], env: {} },
    });
  }

  /** Offers `version` from the lab's Omaha server. */
  async offer(version: string): Promise<void> {
    await this.lab.addPayload(version);
    await this.lab.serve();
  }

  async state(): Promise<LabState> {
    return JSON.parse(await readFile(join(this.lab.stateDir, 'state.json'), 'utf8').catch(() => '{}')) as LabState;
  }

  /**
   * A reboot: /run cleared, a new boot id, then the VM boots. Checks that the slot the bootloader
   * named holds the version the engine wrote there; the host engine then sees that partition booted.
   */
  async boot(title: string): Promise<VmBootResult & { partition: number }> {
    if (!this.assets) throw new UpdateEngineError('ERR_INTERNAL', 'VmLab.setUp() first');
    const pending = (await this.state()).pendingUpdate;
    if (pending) this.lab.slotVersions.set(pending.partition, pending.version);
    await rm(this.lab.runDir, { recursive: true, force: true });
    await writeFile(join(this.options.dir, 'boot_id'), `${crypto.randomUUID()}\n`);
    const result = await bootVm(this.assets, { disk: this.disk, varsFile: join(this.options.dir, 'efivars.fd'), serialLog: this.serialLog, title });
    this.boots.push(result);
    const partition = LETTER_TO_PARTITION[result.slot];
    if (partition === undefined || result.label !== `USR-${result.slot}`) {
      throw new UpdateEngineError('ERR_SLOT_DETECT', `The VM booted an unknown slot: ${JSON.stringify(result)}; see ${this.serialLog}`);
    }
    // systemd-boot records the entry it started; the bls backend reads it back as the booted slot.
    if (this.options.backend === 'bls' && slotOfEntryId(result.entry) !== result.slot) {
      throw new UpdateEngineError('ERR_SLOT_DETECT', `systemd-boot's LoaderEntrySelected is "${result.entry}", not an entry of USR-${result.slot}`);
    }
    const expected = this.lab.slotVersions.get(partition);
    if (result.version !== expected) {
      throw new UpdateEngineError(
        'ERR_IMAGE_VERIFICATION',
        `The VM booted USR-${result.slot}, whose file system says version "${result.version}", but the engine wrote "${expected}" there`,
      );
    }
    this.lab.booted = partition;
    return { ...result, partition };
  }

  /** Writes a new `version` file system into `partition` directly (what an apply would leave there). */
  async writeSlot(partition: number, version: string): Promise<void> {
    const slot = (await this.lab.slots()).find((s) => s.partition === partition);
    if (!slot) throw new UpdateEngineError('ERR_SLOT_NOT_FOUND', `No slot ${partition}`);
    const image = join(this.lab.payloadDir, `direct-${version}.img`);
    await makeSlotImage(version, image, 6 * MiB);
    const fh = await open(this.disk, 'r+');
    try {
      await fh.write(await readFile(image), 0, undefined, slot.byteOffset);
      await fh.sync();
    } finally {
      await fh.close();
    }
    this.lab.slotVersions.set(partition, version);
  }

  /** The flip to `partition` through the configured backend, cut after write `cutAfter` (no cut: undefined). */
  async flip(partition: number, cutAfter?: number): Promise<string[]> {
    const steps: string[] = [];
    const hooks: BootWriteHooks = {
      afterWrite: (step, index) => {
        steps.push(step);
        if (index === cutAfter) throw new UpdateEngineError('ERR_ABORTED', `Crash after write ${index} (${step})`);
      },
    };
    const backend = createBootBackend({ bootBackend: this.options.backend, esp: 'auto', slotAPartition: 3, slotBPartition: 4 });
    await backend.prepareForTry(this.disk, partition, hooks).catch((e: unknown) => {
      if (!(e instanceof UpdateEngineError && e.code === 'ERR_ABORTED')) throw e;
    });
    return steps;
  }

  async close(): Promise<void> {
    await this.lab.close();
  }
}
