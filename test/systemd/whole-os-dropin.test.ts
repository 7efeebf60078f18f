// The whole-OS drop-in (systemd/examples/update-engine.service.d/whole-os.conf) passes
// `systemd-analyze verify` with the unit, and grants what the post-install step uses.

import { spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/cli.ts';
import { requireTool } from '../helpers/tools.ts';

const UNIT = join(REPO_ROOT, 'systemd', 'update-engine.service');
const DROP_IN = join(REPO_ROOT, 'systemd', 'examples', 'update-engine.service.d', 'whole-os.conf');

describe('systemd whole-OS drop-in', () => {
  it('passes systemd-analyze verify with the unit', async () => {
    requireTool('systemd-analyze');
    const dir = await mkdtemp(join(tmpdir(), 'ue-systemd-wholeos-'));
    try {
      const binary = join(dir, 'update-engine');
      await writeFile(binary, '#!/bin/sh\nexit 0\n');
      await chmod(binary, 0o755);
      await writeFile(
        join(dir, 'update-engine.service'),
        (await readFile(UNIT, 'utf8')).replace('ExecStart=/usr/bin/update-engine daemon', `ExecStart=${binary} daemon`),
      );
      await mkdir(join(dir, 'update-engine.service.d'));
      await writeFile(join(dir, 'update-engine.service.d', 'whole-os.conf'), await readFile(DROP_IN, 'utf8'));
      const r = spawnSync('systemd-analyze', ['verify', join(dir, 'update-engine.service')], {
        encoding: 'utf8',
        env: { ...process.env, SYSTEMD_LOG_COLOR: '0' },
      });
      const complaints = `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => (l.includes(dir) || l.includes('update-engine')) && !/DelegateSubgroup/.test(l));
      expect({ status: r.status, complaints }).toEqual({ status: 0, complaints: [] });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('grants mount namespaces, mount syscalls, loop and FUSE devices, and a writable /boot', async () => {
    const text = await readFile(DROP_IN, 'utf8');
    for (const line of [
      'CapabilityBoundingSet=CAP_SYS_ADMIN CAP_SYS_CHROOT',
      'RestrictNamespaces=mnt',
      'SystemCallFilter=@mount',
      'DeviceAllow=/dev/loop-control rw',
      'DeviceAllow=/dev/fuse rw',
      'ReadWritePaths=-/boot',
    ]) {
      expect(text.split('\n')).toContain(line);
    }
  });
});
