// The post-install step under SIGKILL (root): a lab machine whose update holds a squashfs with a
// 2.5 MiB kernel and a /postinst, a child daemon that kills itself at one point of the step, and
// the checks after it: A boots, vmlinuz-a is intact, no loop device or /postinst is left, and a
// restarted daemon completes the update with vmlinuz-b byte-exact.

import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { findEspPartition } from '../../src/install/esp.ts';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { labSettingsInput, UpdateLab } from '../../src/demo/lab.ts';
import { buildFsImage, makeEsp, makeTree, randomKernel, readEspFile, readFrom } from './os-image.ts';

const PROJECT = fileURLToPath(new URL('../../', import.meta.url));
const MIB = 1024 * 1024;

export type InstallKillPoint = { kind: 'kernel-chunk'; chunk: number } | { kind: 'kernel-renamed' } | { kind: 'postinst' };

export interface InstallChildSpec {
  settingsInput: Record<string, string>;
  identityDir: string;
  point?: InstallKillPoint;
}

export const INSTALL_KILL_POINTS: InstallKillPoint[] = [
  { kind: 'kernel-chunk', chunk: 1 },
  { kind: 'kernel-chunk', chunk: 2 },
  { kind: 'kernel-chunk', chunk: 3 },
  { kind: 'kernel-renamed' },
  { kind: 'postinst' },
];

export function describeInstallKill(p: InstallKillPoint): string {
  return p.kind === 'kernel-chunk' ? `kernel copy, after MiB ${p.chunk}` : p.kind === 'kernel-renamed' ? 'kernel copy, after the rename' : '/postinst running';
}

export interface InstallKillRecord {
  point: InstallKillPoint;
  killed: boolean;
  bootedPartition: number;
  kernelAIntact: boolean;
  /** fsck.fat -n found no error on the ESP after the kill. */
  espClean: boolean;
  loopsLeft: number;
  postinstLeft: number;
  converged: boolean;
  kernelBExact: boolean;
  bootedAfter: number;
}

/** A marker only the /postinst of this machine has on its command line. */
const MARK = '0.31415';

export class InstallCrashMachine {
  readonly lab: UpdateLab;
  readonly kernelA = randomKernel(700 * 1024);
  kernelB: Buffer = Buffer.alloc(0);
  /** What the checks found wrong, for failure messages. */
  readonly problems: string[] = [];
  /** Runs after which the ESP had only its dirty bit set or a stale free-cluster hint. */
  dirtyBitRuns = 0;

  constructor(readonly dir: string) {
    this.lab = new UpdateLab({ dir, initialVersion: '1.0.0', usrSizeBytes: 16 * MIB, efiSizeBytes: 40 * MIB });
  }

  async setUp(): Promise<void> {
    await this.lab.setUp();
    await makeEsp(this.lab.disk, { 'flatcar/vmlinuz-a': this.kernelA }, this.dir);
    mkdirSync(join(this.dir, 'boot'));
    this.kernelB = randomKernel(2.5 * MIB);
    const tree = join(this.dir, 'tree');
    makeTree(tree, { kernel: this.kernelB, postinst: `#!/bin/sh\necho "postinst running on $1"\nsleep ${MARK}\n` });
    buildFsImage(tree, join(this.dir, 'image.squashfs'), 'squashfs');
    await this.lab.addPayload('2.0.0', { imagePath: join(this.dir, 'image.squashfs') });
    await this.lab.serve();
  }

  spec(point?: InstallKillPoint): InstallChildSpec {
    const { lab } = this;
    const input = labSettingsInput(
      { server: lab.server?.updateUrl ?? 'disabled', version: '1.0.0', disk: lab.disk, booted: 3, stateDir: lab.stateDir, runDir: lab.runDir },
      { kernelDir: join(this.dir, 'boot', 'flatcar'), postinstallTimeoutMs: '30s' },
    );
    return { settingsInput: input, identityDir: this.dir, ...(point ? { point } : {}) };
  }

  /** Runs a child daemon; resolves with how it ended. */
  runChild(point?: InstallKillPoint): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    const child = spawn(
      process.execPath,
      [join(PROJECT, 'bin', 'run-ts.js'), join(PROJECT, 'test', 'helpers', 'install-crash-child.ts'), JSON.stringify(this.spec(point))],
      { stdio: 'ignore', cwd: PROJECT },
    );
    return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  private loopsOnDisk(): number {
    return execFileSync('losetup', ['-j', this.lab.disk], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).length;
  }

  private postinstsLeft(): number {
    return readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p))
      .filter((p) => {
        try {
          return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(MARK);
        } catch {
          return false;
        }
      }).length;
  }

  /** fsck.fat -n on a copy of the ESP's bytes: clean, or only the dirty bit set. */
  private async espClean(): Promise<boolean> {
    const esp = await findEspPartition(this.lab.disk);
    if (!esp) return false;
    const copy = join(this.dir, 'esp-copy.img');
    writeFileSync(copy, readFrom(this.lab.disk, esp.byteOffset, esp.byteLength));
    try {
      const r = spawnSync('fsck.fat', ['-n', copy], { encoding: 'utf8' });
      if (r.status === 0) return true;
      // The dirty bit (FAT's "not unmounted cleanly", as after any power loss) and a stale FAT32
      // FSInfo free-cluster count (a hint the spec says not to trust) are no damage.
      const complaints = `${r.stdout}\n${r.stderr}`
        .split('\n')
        .map((l) => l.trim())
        .filter(
          (l) =>
            l !== '' &&
            !/^fsck\.fat |^Dirty bit is set|Automatically removing dirty bit|^Leaving filesystem unchanged|^Free cluster summary wrong|^Auto-correcting\.$|: \d+ files, \d+\/\d+ clusters$/.test(
              l,
            ),
        );
      if (complaints.length === 0) {
        this.dirtyBitRuns += 1;
        return true;
      }
      this.problems.push(`fsck.fat -n: ${complaints.join('; ')}`);
      return false;
    } finally {
      rmSync(copy, { force: true });
    }
  }

  /** Kills a child at `point`, then checks the machine, reboots it, and lets a new daemon finish the update. */
  async killAndCheck(point: InstallKillPoint): Promise<InstallKillRecord> {
    const end = await this.runChild(point);
    // The namespace holder sees EOF once the daemon is gone; its mounts and autoclear loops follow.
    let loopsLeft = this.loopsOnDisk();
    for (let i = 0; i < 40 && (loopsLeft > 0 || this.postinstsLeft() > 0); i++) {
      await new Promise((r) => setTimeout(r, 50));
      loopsLeft = this.loopsOnDisk();
    }
    const postinstLeft = this.postinstsLeft();
    const booted = await this.lab.reboot();
    const kernelAIntact = (await readEspFile(this.lab.disk, 'flatcar/vmlinuz-a'))?.equals(this.kernelA) ?? false;
    const espClean = await this.espClean();
    const again = await this.runChild();
    const kernelBExact = (await readEspFile(this.lab.disk, 'flatcar/vmlinuz-b'))?.equals(this.kernelB) ?? false;
    const after = await this.lab.reboot();
    return {
      point,
      killed: end.signal === 'SIGKILL',
      bootedPartition: booted.partition,
      kernelAIntact,
      espClean,
      loopsLeft,
      postinstLeft,
      converged: again.code === 0,
      kernelBExact,
      bootedAfter: after.partition,
    };
  }

  async close(): Promise<void> {
    await this.lab.close();
  }
}

/** A run survived: killed, A booted with its kernel, the ESP checks clean, nothing left behind, and the restart finished the update on B. */
export function installKillSurvived(r: InstallKillRecord): boolean {
  return (
    r.killed &&
    r.bootedPartition === 3 &&
    r.kernelAIntact &&
    r.espClean &&
    r.loopsLeft === 0 &&
    r.postinstLeft === 0 &&
    r.converged &&
    r.kernelBExact &&
    r.bootedAfter === 4
  );
}
