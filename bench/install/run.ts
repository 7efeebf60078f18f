// What the post-install step adds to an update (issue 15, root): a slot image of about 200 MiB
// (a rootfs tree of incompressible files, a 12 MiB kernel, a trivial /postinst) as ext4, squashfs
// and erofs in a GPT disk image file with a FAT32 ESP; times the step (mount in a namespace, kernel
// copy through fusefat, /postinst, unmount) a few rounds each. Writes bench/out/install.json.
// Usage: node bin/run-ts.js bench/install/run.ts [--size 200M] [--rounds 3] [--kernel-mib 12 (0: no kernel)]

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { mkdirSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseSize } from '../../src/config/values.ts';
import { runInstallStep } from '../../src/install/install-step.ts';
import { silentLogger } from '../../src/platform/logger.ts';
import { createDiskImage, readSlots } from '../../src/slots/index.ts';
import { buildFsImage, fileSize, makeEsp, makeTree, writeInto, type TestFs } from '../../test/helpers/os-image.ts';

const { values } = parseArgs({
  options: { size: { type: 'string', default: '200M' }, rounds: { type: 'string', default: '3' }, 'kernel-mib': { type: 'string', default: '12' } },
});
const kernelMiB = Number(values['kernel-mib']);
const targetBytes = parseSize(values.size as string);
const rounds = Number(values.rounds);
const MIB = 1024 * 1024;
const log = (l = '') => process.stdout.write(`${l}\n`);
if (process.getuid?.() !== 0) {
  process.stderr.write('bench/install needs root (loop devices, mount namespaces, FUSE)\n');
  process.exit(2);
}

const dir = await mkdtemp(join(tmpdir(), 'ue-bench-install-'));
const results: { fs: TestFs; imageBytes: number; kernelBytes: number; roundsMs: number[]; medianMs: number }[] = [];
try {
  const tree = join(dir, 'tree');
  const kernel = randomBytes(kernelMiB * MIB);
  makeTree(tree, {
    ...(kernelMiB > 0 ? { kernel } : {}),
    postinst: '#!/bin/sh\necho "postinst: slot $UPDATE_ENGINE_SLOT version $UPDATE_ENGINE_NEW_VERSION"\n',
  });
  mkdirSync(join(tree, 'usr', 'lib'), { recursive: true });
  let filled = kernel.length;
  for (let i = 0; filled < targetBytes - 4 * MIB; i++) {
    const n = Math.min(8 * MIB, targetBytes - 4 * MIB - filled);
    writeFileSync(join(tree, 'usr', 'lib', `blob-${i}.bin`), randomBytes(n));
    filled += n;
  }
  const slotBytes = targetBytes + 64 * MIB;
  const disk = join(dir, 'disk.img');
  await createDiskImage(disk, { usrSizeBytes: slotBytes, efiSizeBytes: 40 * MIB, overwrite: true });
  await makeEsp(disk, { 'flatcar/vmlinuz-a': randomBytes(MIB) }, dir);
  mkdirSync(join(dir, 'boot'));
  const slotB = (await readSlots(disk, { slotAPartition: 3, slotBPartition: 4 })).usrSlots.find((s) => s.partition === 4)!;
  for (const fs of ['ext4', 'squashfs', 'erofs'] as const) {
    const image = join(dir, `image.${fs}`);
    buildFsImage(tree, image, fs, targetBytes + 32 * MIB);
    writeInto(disk, slotB.byteOffset, image);
    const roundsMs: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const started = performance.now();
      await runInstallStep({
        slot: { disk, partition: 4, byteOffset: slotB.byteOffset, byteLength: slotB.byteLength },
        letter: 'b',
        version: '2.0.0',
        settings: {
          kernelPath: '/boot/vmlinuz',
          kernelDir: join(dir, 'boot', 'flatcar'),
          postinstall: true,
          postinstallTimeoutMs: 60_000,
          runDir: join(dir, 'run'),
        },
        signal: new AbortController().signal,
        logger: silentLogger(),
      });
      roundsMs.push(Math.round(performance.now() - started));
    }
    const sorted = [...roundsMs].sort((a, b) => a - b);
    const row = { fs, imageBytes: fileSize(image), kernelBytes: kernel.length, roundsMs, medianMs: sorted[Math.floor(sorted.length / 2)] ?? 0 };
    results.push(row);
    log(`${fs}: image ${(row.imageBytes / MIB).toFixed(0)} MiB, kernel ${kernelMiB} MiB: step ${row.medianMs} ms median (${roundsMs.join(', ')} ms)`);
    await rm(image, { force: true });
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
log('\n| slot filesystem | image | kernel | post-install step (median) |\n| --- | ---: | ---: | ---: |');
for (const r of results) log(`| ${r.fs} | ${(r.imageBytes / MIB).toFixed(0)} MiB | ${kernelMiB} MiB | ${r.medianMs} ms |`);
await mkdir('bench/out', { recursive: true });
await writeFile(
  `bench/out/install${kernelMiB === 12 ? '' : `-kernel-${kernelMiB}`}.json`,
  `${JSON.stringify({ targetBytes, rounds, kernelMiB, loadAverage: loadavg(), results }, null, 1)}\n`,
);
log(
  `\nload average ${loadavg()
    .map((x) => x.toFixed(1))
    .join(' ')}; wrote bench/out/`,
);
