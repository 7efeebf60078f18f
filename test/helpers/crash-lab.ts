// The crash lab: one template disk and signed payloads (made by the demo's UpdateLab), development
// Omaha servers on loopback, and three starting machines to crash: a fresh update (A -> B), a
// newer offer replacing a pending one, and the post-boot cycle on a new slot.

import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startDevServer, type DevServer } from '../../src/omaha/dev-server.ts';
import { loadDevPayloads } from '../../src/omaha/dev-payload-loader.ts';
import { UpdateLab } from '../../src/demo/lab.ts';
import { CrashMachine } from './crash-machine.ts';

export const SCENARIOS = ['fresh', 'replace', 'post-boot'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export interface Scenario {
  name: ScenarioName;
  /** The prepared machine that every run of this scenario starts from (cloned, never run). */
  dir: string;
  serverUrl: string;
  /** The version the machine must end on, booted and marked good. */
  targetVersion: string;
  /** What the cycle is about, for tables. */
  description: string;
}

export interface CrashLabOptions {
  /** Size of the images in the payloads (default 3 MiB). */
  imageSizeBytes?: number;
  /** Size of each /usr slot (default 4 MiB). */
  usrSizeBytes?: number;
  /** Payload block size (default 64 KiB, so that a small image has many blocks). */
  blockSizeBytes?: number;
}

export class CrashLab {
  readonly imageSizeBytes: number;
  /** Version -> SHA-256 (hex) of its image; "1.0.0" is what USR-A holds at the start. */
  readonly images = new Map<string, string>();
  /** Version -> the image file of its payload (2.0.0 and 3.0.0). */
  readonly imagePaths = new Map<string, string>();
  private readonly template: UpdateLab;
  private readonly servers: DevServer[] = [];
  private readonly scenarios = new Map<ScenarioName, Scenario>();
  private offerV2 = '';
  private offerV3 = '';

  constructor(
    readonly root: string,
    options: CrashLabOptions = {},
  ) {
    this.imageSizeBytes = options.imageSizeBytes ?? 3 * 1024 * 1024;
    this.template = new UpdateLab({
      dir: join(root, 'template'),
      initialVersion: '1.0.0',
      usrSizeBytes: options.usrSizeBytes ?? 4 * 1024 * 1024,
      imageSizeBytes: this.imageSizeBytes,
      blockSizeBytes: options.blockSizeBytes ?? 64 * 1024,
    });
  }

  /** Builds the template disk and payloads 2.0.0 and 3.0.0, and starts one server per offer. */
  async setUp(): Promise<void> {
    const lab = this.template;
    await lab.setUp();
    const v2 = await lab.addPayload('2.0.0');
    const v3 = await lab.addPayload('3.0.0');
    for (const p of [v2, v3]) {
      this.images.set(
        p.version,
        createHash('sha256')
          .update(await readFile(p.imagePath))
          .digest('hex'),
      );
      this.imagePaths.set(p.version, p.imagePath);
    }
    const slotA = (await lab.slots()).find((s) => s.partition === 3);
    if (!slotA) throw new Error('The template disk has no USR-A');
    const disk = await readFile(lab.disk);
    this.images.set(
      '1.0.0',
      createHash('sha256')
        .update(disk.subarray(slotA.byteOffset, slotA.byteOffset + this.imageSizeBytes))
        .digest('hex'),
    );
    const serve = async (paths: string[]): Promise<string> => {
      const server = await startDevServer({ payloads: await loadDevPayloads(paths) });
      this.servers.push(server);
      return server.updateUrl;
    };
    this.offerV2 = await serve([v2.path]);
    this.offerV3 = await serve([v2.path, v3.path]);
  }

  /** The prepared starting machine of a scenario (made on first use). */
  async scenario(name: ScenarioName): Promise<Scenario> {
    const known = this.scenarios.get(name);
    if (known) return known;
    const dir = join(this.root, 'scenarios', name);
    let scenario: Scenario;
    switch (name) {
      case 'fresh':
        await CrashMachine.create(dir, this.template.disk, { booted: 3, slotVersions: { '3': '1.0.0' } }, this.offerV2);
        scenario = { name, dir, serverUrl: this.offerV2, targetVersion: '2.0.0', description: 'A 1.0.0 running, 2.0.0 offered: download, verify, flip' };
        break;
      case 'replace': {
        const m = await CrashMachine.clone((await this.scenario('fresh')).dir, dir, this.offerV2);
        await expectExit0(m, 'preparing a pending 2.0.0');
        scenario = {
          name,
          dir,
          serverUrl: this.offerV3,
          targetVersion: '3.0.0',
          description: '2.0.0 flipped and pending, 3.0.0 offered: undo the flip, apply over it',
        };
        break;
      }
      case 'post-boot': {
        const m = await CrashMachine.clone((await this.scenario('replace')).dir, dir, this.offerV2);
        const choice = await m.reboot();
        if (choice.partition !== 4) throw new Error(`Preparing post-boot: the reboot chose partition ${choice.partition}, not 4`);
        scenario = { name, dir, serverUrl: this.offerV2, targetVersion: '2.0.0', description: 'booted B (2.0.0) once: health gate, mark good, check' };
        break;
      }
    }
    this.scenarios.set(name, scenario);
    return scenario;
  }

  /** A fresh copy of the scenario's machine in `dir`. */
  async machine(name: ScenarioName, dir: string): Promise<CrashMachine> {
    const s = await this.scenario(name);
    return CrashMachine.clone(s.dir, dir, s.serverUrl);
  }

  async close(): Promise<void> {
    await Promise.all(this.servers.splice(0).map((s) => s.close()));
  }
}

async function expectExit0(machine: CrashMachine, what: string): Promise<void> {
  const r = await machine.daemonOnce();
  if (r.exitCode !== 0) throw new Error(`${what}: the daemon exited ${r.exitCode}: ${r.error?.message ?? ''}`);
}
