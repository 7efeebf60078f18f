// Doctor checks of the machine itself: the keyring, the disk and slots, the directories, and the
// commands the daemon runs. Each returns DoctorResults and never throws.

import { access, constants, mkdir, stat } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import type { Settings } from '../config/schema.ts';
import { loadKeyring } from '../payload/keyring.ts';
import { detectBootedSlot, readSlots, type SlotDetectPaths } from '../slots/index.ts';
import { splitCommand } from '../platform/exec.ts';
import { createWriteThrottle, formatRate } from '../io/write-throttle.ts';
import { createLogger } from '../platform/logger.ts';
import { Writable } from 'node:stream';
import { fail, ok, warn, type DoctorResult } from './doctor-result.ts';

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

export async function checkKeyring(settings: Settings): Promise<DoctorResult> {
  try {
    const keyring = await loadKeyring(settings.publicKeys);
    const usable = [...keyring.keys.keys()].filter((id) => !keyring.revokedKeyIds.has(id));
    if (usable.length === 0) {
      return fail('keyring', `every key in "${settings.publicKeys}" is revoked`, 'add the current release key (PEM public key) to PUBLIC_KEYS');
    }
    const revoked = keyring.keys.size - usable.length;
    return ok(
      'keyring',
      `${usable.length} trusted key(s) in "${settings.publicKeys}"${revoked ? `, ${revoked} revoked` : ''}: ${usable.map((id) => id.slice(0, 16)).join(', ')}`,
    );
  } catch (e) {
    return fail('keyring', message(e), `put the release signing key's public half (PEM) at "${settings.publicKeys}", or point PUBLIC_KEYS at it`);
  }
}

export async function checkSlots(settings: Settings, paths?: Partial<SlotDetectPaths>): Promise<DoctorResult[]> {
  let detected;
  try {
    detected = await detectBootedSlot({
      disk: settings.disk,
      bootedPartition: settings.bootedPartition,
      slotAPartition: settings.slotAPartition,
      slotBPartition: settings.slotBPartition,
      paths,
    });
  } catch (e) {
    return [fail('slots', message(e), 'set DISK and BOOTED_PARTITION in update.conf, or boot with mount.usr=PARTUUID=... on the kernel command line')];
  }
  try {
    const table = await readSlots(detected.disk, {
      slotAPartition: settings.slotAPartition,
      slotBPartition: settings.slotBPartition,
      slotTypeGuid: settings.slotType,
    });
    const describe = (p: number) => {
      const s = table.usrSlots.find((x) => x.partition === p);
      return s ? `${s.label || `partition ${p}`} (priority ${s.priority}, tries ${s.tries}, successful ${s.successful ? 1 : 0})` : `partition ${p}`;
    };
    const results: DoctorResult[] = [
      ok(
        'disk',
        `"${detected.disk}": GPT valid, ${table.sectorSizeBytes}-byte sectors${table.problems.length ? `; repaired at the next start: ${table.problems.join('; ')}` : ''}`,
      ),
    ];
    results.push(ok('booted slot', `${describe(detected.bootedPartition)}, found by ${detected.source}`));
    results.push(ok('passive slot', `${describe(detected.passivePartition)}: updates are written here`));
    return results;
  } catch (e) {
    if ((e as { code?: string }).code === 'ERR_SLOT_NOT_USR') {
      // A label alone does not make a slot (issue 14): the bootloader would not boot it.
      return [
        fail(
          'slot types',
          message(e),
          `give the slots the slot type ${settings.slotType} (for /usr: sgdisk --typecode=N:8500 DISK) or set SLOT_TYPE: the bootloader only boots partitions of that type`,
        ),
      ];
    }
    return [
      fail(
        'slots',
        message(e),
        `check that DISK ("${detected.disk}") is the disk holding USR-A and USR-B (partitions ${settings.slotAPartition} and ${settings.slotBPartition})`,
      ),
    ];
  }
}

async function writableDir(name: string, dir: string, key: string): Promise<DoctorResult> {
  try {
    await mkdir(dir, { recursive: true });
    await access(dir, constants.W_OK);
    return ok(name, `"${dir}" is writable`);
  } catch (e) {
    return fail(name, `"${dir}": ${message(e)}`, `create "${dir}" writable for the daemon's user, or set ${key}`);
  }
}

export async function checkDirectories(settings: Settings): Promise<DoctorResult[]> {
  return [await writableDir('state dir', settings.stateDir, 'STATE_DIR'), await writableDir('run dir', settings.runDir, 'RUN_DIR')];
}

async function onPath(program: string, pathVar: string): Promise<boolean> {
  const candidates = program.includes('/')
    ? [program]
    : pathVar
        .split(delimiter)
        .filter(Boolean)
        .map((d) => join(d, program));
  for (const c of candidates) {
    try {
      if ((await stat(c)).isFile()) {
        await access(c, constants.X_OK);
        return true;
      }
    } catch {
      // next
    }
  }
  return false;
}

export async function checkCommands(settings: Settings, pathVar = process.env.PATH ?? ''): Promise<DoctorResult[]> {
  const results: DoctorResult[] = [];
  const reboot = splitCommand(settings.rebootCommand);
  if (settings.rebootStrategy === 'off') results.push(ok('reboot command', 'REBOOT_STRATEGY=off: the daemon never reboots'));
  else if (await onPath(reboot[0] as string, pathVar)) results.push(ok('reboot command', `"${settings.rebootCommand}"`));
  else
    results.push(
      fail('reboot command', `"${reboot[0]}" is not an executable on PATH`, 'set REBOOT_COMMAND to a command that reboots this machine (no shell is used)'),
    );
  if (!settings.healthCheck)
    results.push(
      warn(
        'health check',
        'HEALTH_CHECK is not set: a new slot is marked good as soon as the daemon starts on it',
        'set HEALTH_CHECK to a command that exits 0 when this machine serves its workload',
      ),
    );
  else {
    const argv = splitCommand(settings.healthCheck);
    results.push(
      (await onPath(argv[0] as string, pathVar))
        ? ok('health check', `"${settings.healthCheck}", retried for ${Math.round(settings.healthTimeoutMs / 1000)} s`)
        : fail('health check', `"${argv[0]}" is not an executable on PATH`, 'fix HEALTH_CHECK: a new slot would never be marked good and would roll back'),
    );
  }
  return results;
}

/** IO_WRITE_BPS: sets the throttle up for real on the slot's disk (and removes it again), to name the mechanism. */
export async function checkThrottle(settings: Settings, disk: string | undefined): Promise<DoctorResult> {
  if (settings.ioWriteBytesPerSecond === 0) return ok('io throttle', 'IO_WRITE_BPS=0: writes to the passive slot are not limited');
  const warnings: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      const line = JSON.parse(chunk.toString('utf8')) as { level: number; msg?: string };
      if (line.level >= 40 && line.msg) warnings.push(line.msg);
      done();
    },
  });
  try {
    const throttle = await createWriteThrottle({
      bytesPerSecond: settings.ioWriteBytesPerSecond,
      targetDevice: disk,
      logger: createLogger({ destination: sink, pretty: false, level: 'warn' }),
    });
    await throttle.dispose();
    const detail = `${formatRate(throttle.bytesPerSecond)} by ${throttle.mechanism}${throttle.disk ? ` on ${throttle.disk.name} (${throttle.disk.major}:${throttle.disk.minor})` : ''}`;
    if (throttle.mechanism === 'token-bucket' && warnings.length > 0) {
      return warn(
        'io throttle',
        `${detail}; cgroup throttling is not available: ${warnings.filter((w) => !w.includes('token-bucket')).join('; ')}`,
        'run as root with the blkio (v1) or io (v2) controller delegated (systemd: Delegate=yes) so that the kernel paces writeback too',
      );
    }
    return ok('io throttle', detail);
  } catch (e) {
    return fail('io throttle', message(e), 'check IO_WRITE_BPS');
  }
}
