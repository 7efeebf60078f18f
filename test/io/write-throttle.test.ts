// createWriteThrottle: no limit, the token bucket, the fallback chain with its warnings, and the real
// thing as root: cgroup v1 on a loop device, 24 MiB written at 8 MiB/s through the apply's write
// stream, the achieved rate measured (generous tolerance; bench/apply holds the tight figure).

import { mkdir, mkdtemp, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWriteThrottle } from '../../src/io/write-throttle.ts';
import { BlockDeviceTarget } from '../../src/io/block-device-target.ts';
import { readCgroupEnvironment } from '../../src/io/cgroup-paths.ts';
import { createLogger, type Logger } from '../../src/platform/logger.ts';
import { FakeClock, flushMicrotasks } from '../fakes/fake-clock.ts';
import { requireRoot, requireTool } from '../helpers/tools.ts';
import { attachLoop, detachLoop } from '../helpers/loop-device.ts';
import { MemoryTarget } from '../helpers/memory-target.ts';

const MiB = 1024 * 1024;

function capturingLogger(): { logger: Logger; lines: () => { level: number; msg: string; mechanism?: string }[] } {
  const out: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _e, cb) {
      out.push(chunk.toString());
      cb();
    },
  });
  const logger = createLogger({ destination, pretty: false, level: 'debug' });
  return {
    logger,
    lines: () =>
      out
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { level: number; msg: string }),
  };
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ue-io-throttle-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('createWriteThrottle', () => {
  it('does nothing for a limit of 0', async () => {
    const { logger, lines } = capturingLogger();
    const t = await createWriteThrottle({ bytesPerSecond: 0, logger });
    const target = new MemoryTarget(10);
    expect(t.mechanism).toBe('none');
    expect(t.wrap(target)).toBe(target);
    await t.dispose();
    expect(lines()).toEqual([]);
  });

  it('uses the token bucket when asked, pacing writes and logging it', async () => {
    const { logger, lines } = capturingLogger();
    const clock = new FakeClock();
    const t = await createWriteThrottle({ bytesPerSecond: 1000, logger, clock, mechanisms: ['token-bucket'] });
    expect(t.mechanism).toBe('token-bucket');
    const inner = new MemoryTarget(10_000);
    const wrapped = t.wrap(inner);
    const p = wrapped.write(Buffer.alloc(4096, 1), 0);
    await flushMicrotasks();
    expect(inner.writtenBytes).toBe(0);
    await clock.advance(4096);
    await p;
    expect(inner.writtenBytes).toBe(4096);
    expect(lines()).toEqual([expect.objectContaining({ level: 30, mechanism: 'token-bucket', msg: 'IO write throttle: 0.98 KiB/s by token-bucket' })]);
  });

  it('falls back to the token bucket with a warning per mechanism that cannot be set up', async () => {
    const { logger, lines } = capturingLogger();
    const t = await createWriteThrottle({ bytesPerSecond: 40 * MiB, logger });
    expect(t.mechanism).toBe('token-bucket');
    const msgs = lines().map((l) => [l.level, l.msg]);
    expect(msgs).toEqual([
      [40, 'IO write throttle: cgroup-v2 is not usable (no target device was given); trying the next mechanism'],
      [40, 'IO write throttle: cgroup-v1 is not usable (no target device was given); trying the next mechanism'],
      [40, 'IO write throttle: 40 MiB/s by token-bucket (fallback)'],
    ]);
  });

  it('says why when the target is on no block device, and with no token bucket allowed, limits nothing', async () => {
    const { logger, lines } = capturingLogger();
    const t = await createWriteThrottle({ bytesPerSecond: MiB, logger, targetDevice: join(dir, 'missing.img'), mechanisms: ['cgroup-v1'] });
    expect(t.mechanism).toBe('none');
    expect(lines()[0]?.msg).toMatch(/^IO write throttle: cgroup-v1 is not usable \(Cannot stat ".*missing\.img": ENOENT/);
    expect(lines()[1]?.msg).toBe('IO write throttle: no mechanism could be set up; writes are not limited');
  });
});

describe('createWriteThrottle with real cgroups (root)', () => {
  let loop: string | undefined;
  beforeAll(async () => {
    requireRoot('cgroups and loop devices');
    requireTool('losetup');
    const image = join(dir, 'slot.img');
    await writeFile(image, '');
    await truncate(image, 64 * MiB);
    loop = await attachLoop(image);
  });
  afterAll(async () => {
    if (loop) await detachLoop(loop);
  });

  it('skips a v2 hierarchy without the io controller (warning), uses v1, and paces 24 MiB to about 8 MiB/s', async () => {
    const device = loop as string;
    const real = await readCgroupEnvironment();
    const fakeV2 = join(dir, 'v2');
    await mkdir(fakeV2, { recursive: true });
    await writeFile(join(fakeV2, 'cgroup.controllers'), 'hugetlb\n');
    const environment = {
      mounts: { ...real.mounts, v2: fakeV2 },
      cgroups: [...real.cgroups.filter((c) => c.hierarchyId !== 0), { hierarchyId: 0, controllers: [], path: '/' }],
    };
    const { logger, lines } = capturingLogger();
    const throttle = await createWriteThrottle({ bytesPerSecond: 8 * MiB, targetDevice: device, logger, environment });
    const cgroupDir = throttle.cgroupDir as string;
    try {
      expect(throttle.mechanism).toBe('cgroup-v1');
      expect(lines()[0]?.msg).toMatch(/^IO write throttle: cgroup-v2 is not usable \(The io controller is not available/);
      expect(lines()[1]?.msg).toMatch(/^IO write throttle: 8 MiB\/s by cgroup-v1 blkio.throttle.write_bps_device "7:\d+ 8388608"/);
      const target = throttle.wrap(await BlockDeviceTarget.probe(device));
      await target.open();
      const block = Buffer.alloc(MiB, 0x5a);
      const started = performance.now();
      for (let i = 0; i < 24; i++) {
        await target.write(block, i * MiB);
        await target.sync();
      }
      const seconds = (performance.now() - started) / 1000;
      await target.close();
      // The bytes went through our cgroup to the loop device, and at about the limit.
      const serviced = await readFile(join(cgroupDir, 'blkio.throttle.io_service_bytes'), 'utf8');
      const written = Number(/^7:\d+ Write (\d+)$/m.exec(serviced)?.[1]);
      // (Not all 24 MiB: a sync(2) by another process meanwhile writes some dirty pages back outside our cgroup.)
      expect(written).toBeGreaterThanOrEqual(12 * MiB);
      const rate = (24 * MiB) / seconds;
      expect(rate).toBeGreaterThan(0.6 * 8 * MiB);
      expect(rate).toBeLessThan(1.3 * 8 * MiB);
    } finally {
      await throttle.dispose();
    }
    expect(
      await stat(cgroupDir).then(
        () => 'exists',
        () => 'gone',
      ),
    ).toBe('gone');
    expect(lines().at(-1)?.msg).toBe('IO write throttle: left and removed the cgroup');
  });
});
