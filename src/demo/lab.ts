// A throwaway update lab: a GPT disk image made with the project's own code, signed payloads made
// with the test key, a development Omaha server on loopback, and settings that point at them.
// The demo and the end-to-end tests run the real daemon against it; it never touches /etc or a disk.

import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { settingsSchema, type Settings } from '../config/schema.ts';
import { startDevServer, type DevServer, type RecordedEvent } from '../omaha/dev-server.ts';
import { loadDevPayloads } from '../omaha/dev-payload-loader.ts';
import { createPayload } from '../payload/create.ts';
import { bootSimulate, createDiskImage, readSlots, type BootChoice } from '../slots/index.ts';
import type { IdentityPaths } from '../platform/identity.ts';
import { PROJECT_ROOT } from '../platform/project-root.ts';

export const TEST_KEYS_DIR = join(PROJECT_ROOT, 'fixtures', 'keys');
export const TEST_PRIVATE_KEY = join(TEST_KEYS_DIR, 'test-only-ed25519.pem');
export const TEST_PUBLIC_KEY = join(TEST_KEYS_DIR, 'test-only-ed25519.pub.pem');

export interface LabOptions {
  dir: string;
  /** Version installed on USR-A at the start. */
  initialVersion: string;
  /** Size of each USR slot; default 16 MiB. */
  usrSizeBytes?: number;
  /** Size of the images in the payloads; default 12 MiB. */
  imageSizeBytes?: number;
  blockSizeBytes?: number;
  /** Size of the EFI system partition (default 2 MiB; a FAT32 ESP needs at least 33 MiB). */
  efiSizeBytes?: number;
  /** Makes the image of `version` at `path` (default: random bytes, not a file system). */
  makeImage?: (version: string, path: string, sizeBytes: number) => Promise<void>;
}

export interface LabPayload {
  version: string;
  path: string;
  imagePath: string;
}

/** The raw settings of a lab machine (the schema's field names), before validation. */
export function labSettingsInput(
  m: { server: string; version: string; disk: string; booted: number; stateDir: string; runDir: string },
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    server: m.server,
    version: m.version,
    disk: m.disk,
    bootedPartition: String(m.booted),
    publicKeys: TEST_PUBLIC_KEY,
    stateDir: m.stateDir,
    runDir: m.runDir,
    controlSocket: join(m.runDir, 'control.sock'),
    rebootStrategy: 'off',
    rebootCommand: 'true',
    // A lab machine never joins the host's system bus.
    dbus: 'false',
    ...extra,
  };
}

/** A lab machine's identity files (machine-id, boot_id, os-release) in its directory. */
export function labIdentityPaths(dir: string): IdentityPaths {
  return { machineId: join(dir, 'machine-id'), bootId: join(dir, 'boot_id'), osRelease: join(dir, 'os-release') };
}

/** Writes `size` random bytes at `offset` of a file, 1 MiB at a time. */
async function writeRandom(path: string, offset: number, size: number): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    for (let done = 0; done < size; done += 1024 * 1024) await fh.write(randomBytes(Math.min(1024 * 1024, size - done)), 0, undefined, offset + done);
  } finally {
    await fh.close();
  }
}

/** The slots' versions, as the lab knows them (the images are random bytes, not real file systems). */
export class UpdateLab {
  readonly disk: string;
  readonly stateDir: string;
  readonly runDir: string;
  readonly payloadDir: string;
  readonly events: RecordedEvent[] = [];
  readonly payloads: LabPayload[] = [];
  /** Partition number -> the version written on it. */
  readonly slotVersions = new Map<number, string>();
  booted = 3;
  server: DevServer | undefined;

  constructor(readonly options: LabOptions) {
    this.disk = join(options.dir, 'disk.img');
    this.stateDir = join(options.dir, 'state');
    this.runDir = join(options.dir, 'run');
    this.payloadDir = join(options.dir, 'payloads');
  }

  async setUp(): Promise<void> {
    await mkdir(this.payloadDir, { recursive: true });
    await mkdir(this.stateDir, { recursive: true });
    await writeFile(join(this.options.dir, 'machine-id'), `${randomBytes(16).toString('hex')}\n`);
    await writeFile(join(this.options.dir, 'boot_id'), `${crypto.randomUUID()}\n`);
    await createDiskImage(this.disk, {
      usrSizeBytes: this.options.usrSizeBytes ?? 16 * 1024 * 1024,
      ...(this.options.efiSizeBytes ? { efiSizeBytes: this.options.efiSizeBytes } : {}),
      overwrite: true,
    });
    this.slotVersions.set(3, this.options.initialVersion);
    const slotA = (await this.slots()).find((s) => s.partition === 3);
    const size = Math.min(slotA?.byteLength ?? 0, this.options.imageSizeBytes ?? 12 * 1024 * 1024);
    if (slotA && this.options.makeImage) {
      const image = join(this.payloadDir, `image-${this.options.initialVersion}.bin`);
      await this.options.makeImage(this.options.initialVersion, image, size);
      const fh = await open(this.disk, 'r+');
      try {
        await fh.write(await readFile(image), 0, undefined, slotA.byteOffset);
      } finally {
        await fh.close();
      }
    } else if (slotA) await writeRandom(this.disk, slotA.byteOffset, size);
  }

  /** Makes a payload signed with the test key, of the given image file, or of a new image (options.makeImage, else random bytes). */
  async addPayload(
    version: string,
    options: { privateKeyPem?: string; appId?: string; buildTimeSeconds?: number | null; imagePath?: string } = {},
  ): Promise<LabPayload> {
    let imagePath = options.imagePath;
    if (imagePath === undefined) {
      imagePath = join(this.payloadDir, `image-${version}.bin`);
      const size = this.options.imageSizeBytes ?? 12 * 1024 * 1024;
      if (this.options.makeImage) await this.options.makeImage(version, imagePath, size);
      else {
        // Random bytes: a raw image without a filesystem (the post-install step skips it).
        await writeFile(imagePath, '');
        await writeRandom(imagePath, 0, size);
      }
    }
    const path = join(this.payloadDir, `update-${version}.payload`);
    await createPayload({
      imagePath,
      out: path,
      version,
      privateKeyPem: options.privateKeyPem ?? readFileSync(TEST_PRIVATE_KEY, 'utf8'),
      ...(this.options.blockSizeBytes ? { blockSizeBytes: this.options.blockSizeBytes } : {}),
      ...(options.appId ? { appId: options.appId } : {}),
      buildTimeSeconds: options.buildTimeSeconds,
    });
    const payload = { version, path, imagePath };
    this.payloads.push(payload);
    return payload;
  }

  /** (Re)starts the Omaha server with the payloads made so far. */
  async serve(): Promise<DevServer> {
    await this.server?.close();
    this.server = await startDevServer({
      payloads: await loadDevPayloads(this.payloads.map((p) => p.path)),
      onEvent: (e) => {
        this.events.push(e);
      },
    });
    return this.server;
  }

  /** Settings for the machine as booted now (VERSION is the booted slot's version). */
  settings(extra: Record<string, string> = {}): Settings {
    const version = this.slotVersions.get(this.booted) ?? this.options.initialVersion;
    return settingsSchema.parse(
      labSettingsInput(
        { server: this.server?.updateUrl ?? 'disabled', version, disk: this.disk, booted: this.booted, stateDir: this.stateDir, runDir: this.runDir },
        extra,
      ),
    );
  }

  identityPaths(): IdentityPaths {
    return labIdentityPaths(this.options.dir);
  }

  /** What a reboot does: /run is cleared, the bootloader picks a slot (and counts its try), a new boot id. */
  async reboot(): Promise<BootChoice> {
    const pending = await this.pendingFlip();
    if (pending) this.slotVersions.set(pending.partition, pending.version);
    await rm(this.runDir, { recursive: true, force: true });
    await writeFile(join(this.options.dir, 'boot_id'), `${crypto.randomUUID()}\n`);
    const choice = await bootSimulate(this.disk);
    this.booted = choice.partition;
    return choice;
  }

  async slots() {
    return (await readSlots(this.disk, { slotAPartition: 3, slotBPartition: 4 })).usrSlots;
  }

  private async pendingFlip(): Promise<{ version: string; partition: number } | undefined> {
    try {
      const state = JSON.parse(await readFile(join(this.stateDir, 'state.json'), 'utf8')) as { pendingUpdate?: { version: string; partition: number } };
      return state.pendingUpdate;
    } catch {
      return undefined;
    }
  }

  async close(): Promise<void> {
    await this.server?.close();
    this.server = undefined;
  }
}
