// The engine among its peers (issue 17): the same random image written into the same slot of the same
// disk by `update-engine daemon --once` (signed payload), swupdate (signed .swu streamed with -d, then a
// final `sync` since swupdate does not fsync), RAUC (signed plain bundle downloaded, then installed by
// its service, then a sync; root only), `curl | dd conv=fsync` and `curl | tee >(sha256sum) | dd`,
// all fetched from one nginx on 127.0.0.1. Runs interleaved, medians; prints wall, client CPU-s/GiB,
// machine CPU-s/GiB (all CPU time of the machine over the run: nginx and kernel writeback included)
// and peak RSS, writes bench/out/peers.json and draws img/bench-peers.svg (bench/peers/draw.ts redraws it).
// Needs scripts/setup-bench.sh. Usage: node bin/run-ts.js bench/peers/run.ts [--size 1G] [--runs 5] [--dir DIR]
//        [--peers engine,swupdate,rauc,curl-dd,curl-tee-dd] [--out bench/out/peers.json]
// The engine's memory at 4 GiB: --size 4G --peers engine --runs 1 --out bench/out/peers-4g.json (the plot shows it).

import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parseSize } from '../../src/config/values.ts';
import { createPayload } from '../../src/payload/create.ts';
import { createDiskImage } from '../../src/slots/index.ts';
import { buildEngine, launcherEnv, launcherNodeArgs } from '../apply/engine-build.ts';
import { PRIVATE_KEY, PUBLIC_KEY, readGpt, writeGpt, writeRandomImage } from '../apply/fixtures.ts';
import { median } from '../apply/runners.ts';
import { startServe } from '../apply/serve-process.ts';
import { startNginx } from '../../test/helpers/nginx.ts';
import { processCpuSeconds, processPeakRss, setupRauc, type RaucPeer } from './rauc.ts';
import { buildSwu } from './swupdate.ts';
import { drawPeersPlot, LARGE_OUT, peersTargets, readOptionalBench, type PeersBench } from './plot.ts';
import { timed, type TimedRun } from './timed.ts';

const MiB = 1024 * 1024;
const log = (line: string) => process.stdout.write(`${line}\n`);
const { values: args } = parseArgs({
  options: {
    size: { type: 'string', default: '1G' },
    runs: { type: 'string', default: '5' },
    dir: { type: 'string' },
    peers: { type: 'string', default: 'engine,swupdate,rauc,curl-dd,curl-tee-dd' },
    out: { type: 'string', default: 'bench/out/peers.json' },
  },
});

async function main(): Promise<void> {
  const sizeBytes = parseSize(args.size);
  const loadAtStart = loadavg();
  const dir = resolve(args.dir ?? (await mkdtemp(join(tmpdir(), 'ue-bench-peers-'))));
  const www = join(dir, 'www');
  const payloads = join(dir, 'payloads');
  await mkdir(www, { recursive: true });
  await mkdir(payloads, { recursive: true });
  log(`compiling the engine; preparing a random ${args.size} image, its payload, a .swu and a disk in ${dir}`);
  const entry = buildEngine();
  const imagePath = join(www, 'rootfs.img');
  await writeRandomImage(imagePath, sizeBytes);
  const payloadPath = join(payloads, 'update.payload');
  await createPayload({ imagePath, out: payloadPath, version: '9999.0.0', privateKeyPem: await readFile(PRIVATE_KEY, 'utf8'), compression: 'none' });
  const diskPath = join(dir, 'disk.img');
  const disk = await createDiskImage(diskPath, { usrSizeBytes: Math.ceil((sizeBytes + 32 * MiB) / MiB) * MiB, overwrite: true });
  const slot = disk.partitions.find((p) => p.partition === 4);
  if (!slot) throw new Error('the disk image has no partition 4');
  const wanted = args.peers.split(',');
  // The .swu copies the image: made only when swupdate runs (an engine-only 4 GiB run skips it).
  const swuDir = join(dir, 'swu');
  await mkdir(swuDir, { recursive: true });
  const swu = wanted.includes('swupdate') ? await buildSwu(swuDir, imagePath, diskPath, slot.byteOffset) : undefined;
  if (swu) await rename(swu.swuPath, join(www, 'update.swu'));
  const gpt = await readGpt(diskPath, disk.sizeBytes);
  const restoreDisk = () => writeGpt(gpt, diskPath);

  let rauc: RaucPeer | undefined;
  let serve: Awaited<ReturnType<typeof startServe>> | undefined;
  let nginx: Awaited<ReturnType<typeof startNginx>> | undefined;
  const stopAll = async () => {
    await nginx?.stop();
    await serve?.close();
    await rauc?.stop();
  };
  try {
    if (wanted.includes('rauc')) {
      if (process.getuid?.() !== 0) throw new Error('the rauc peer needs root (a loop device for its slot); leave it out with --peers');
      rauc = await setupRauc(join(dir, 'rauc'), imagePath, diskPath, slot);
      await rename(rauc.bundlePath, join(www, 'update.raucb'));
    }
    serve = await startServe(entry, payloadPath);
    nginx = await startNginx(join(dir, 'nginx'), www, payloads, new URL(serve.updateUrl).origin);
  } catch (e) {
    await stopAll();
    throw e;
  }
  const origin = nginx.origin;
  const url = (name: string) => `${origin}/${name}`;
  const seek = `of='${diskPath}' bs=1M seek=${slot.byteOffset} oflag=seek_bytes conv=notrunc,fsync status=none`;
  const engineConf = async (runDir: string) => {
    await mkdir(join(runDir, 'state'), { recursive: true });
    const conf = join(runDir, 'update.conf');
    const lines = [
      `SERVER=${origin}/v1/update/`,
      'VERSION=1.0.0',
      `DISK=${diskPath}`,
      'BOOTED_PARTITION=3',
      `PUBLIC_KEYS=${resolve(PUBLIC_KEY)}`,
      `STATE_DIR=${join(runDir, 'state')}`,
      `RUN_DIR=${join(runDir, 'run')}`,
      `CONTROL_SOCKET=${join(runDir, 'run', 'control.sock')}`,
      'REBOOT_STRATEGY=off',
      'LOG_LEVEL=warn',
    ];
    await writeFile(conf, `${lines.join('\n')}\n`);
    return conf;
  };
  const launcherEnvWords = Object.entries(launcherEnv())
    .map(([k, v]) => `${k}='${v}'`)
    .join(' ');
  const peers: Record<string, () => Promise<TimedRun>> = {
    engine: async () => {
      const runDir = await mkdtemp(join(dir, 'engine-'));
      const conf = await engineConf(runDir);
      try {
        return await timed(
          `env -i PATH="$PATH" HOME="$HOME" ${launcherEnvWords} '${process.execPath}' ${launcherNodeArgs().join(' ')} '${entry}' daemon --once --sysroot '${runDir}' --config '${conf}' 2>'${runDir}/daemon.log'`,
        );
      } finally {
        await restoreDisk();
        await rm(runDir, { recursive: true, force: true });
      }
    },
    swupdate: () => timed(`swupdate -k '${swu?.certPath}' -H bench:1.0 -l 2 -d "-u ${url('update.swu')}" >/dev/null && sync '${diskPath}'`),
    rauc: async () => {
      if (!rauc) throw new Error('rauc was not set up');
      const cpuBefore = await processCpuSeconds(rauc.servicePid);
      const download = join(dir, 'download.raucb');
      const result = await timed(
        `curl -sSf '${url('update.raucb')}' -o '${download}' && DBUS_SYSTEM_BUS_ADDRESS='${rauc.busAddress}' rauc install '${download}' >/dev/null && sync '${rauc.slotDevice}' && rm -f '${download}'`,
      );
      const serviceCpu = (await processCpuSeconds(rauc.servicePid)) - cpuBefore;
      return {
        ...result,
        clientCpuSeconds: result.clientCpuSeconds + serviceCpu,
        peakRssBytes: Math.max(result.peakRssBytes, await processPeakRss(rauc.servicePid)),
      };
    },
    'curl-dd': () => timed(`curl -sSf '${url('rootfs.img')}' | dd ${seek}`),
    'curl-tee-dd': () => timed(`curl -sSf '${url('rootfs.img')}' | tee >(sha256sum >/dev/null) | dd ${seek}`),
  };
  const names = args.peers.split(',').filter((n) => {
    if (!peers[n]) throw new Error(`unknown peer "${n}" (known: ${Object.keys(peers).join(', ')})`);
    return true;
  });
  const results: Record<string, TimedRun[]> = Object.fromEntries(names.map((n) => [n, []]));
  try {
    for (let round = 0; round < Number(args.runs); round++) {
      for (const name of names) {
        const run = await peers[name]!();
        results[name]!.push(run);
        // The first round of each peer proves it wrote the image into the slot (cmp exits non-zero otherwise),
        // then the slot is zeroed so that the next peer's check proves its own write.
        if (round === 0) execFileSync('cmp', ['-s', '-n', String(sizeBytes), '-i', `0:${slot.byteOffset}`, imagePath, diskPath]);
        if (round === 0)
          execFileSync('dd', [
            `of=${diskPath}`,
            'bs=1M',
            `seek=${slot.byteOffset}`,
            'oflag=seek_bytes',
            'conv=notrunc',
            `count=${sizeBytes / MiB}`,
            'if=/dev/zero',
            'status=none',
          ]);
        log(
          `round ${round + 1} ${name.padEnd(12)} ${run.seconds.toFixed(2)} s, client ${run.clientCpuSeconds.toFixed(2)} CPU-s, machine ${run.machineCpuSeconds.toFixed(2)} CPU-s, peak RSS ${(run.peakRssBytes / MiB).toFixed(0)} MiB`,
        );
      }
    }
  } finally {
    await stopAll();
  }
  const gib = sizeBytes / (1024 * MiB);
  const machine = { node: process.version, cpus: cpus().length, loadAverage: { start: loadAtStart, end: loadavg() } };
  log(`\nmedians of ${args.runs} interleaved runs, ${args.size}; swupdate's and RAUC's times include a final sync; RAUC's CPU includes its service`);
  log('peer          wall s   client CPU-s/GiB   machine CPU-s/GiB   peak RSS MiB');
  const summary = names.map((name) => {
    const runs = results[name]!;
    const row = {
      peer: name,
      seconds: median(runs.map((r) => r.seconds)),
      clientCpuPerGiB: median(runs.map((r) => r.clientCpuSeconds)) / gib,
      machineCpuPerGiB: median(runs.map((r) => r.machineCpuSeconds)) / gib,
      peakRssMiB: median(runs.map((r) => r.peakRssBytes)) / MiB,
    };
    log(
      `${name.padEnd(12)} ${row.seconds.toFixed(2).padStart(7)} ${row.clientCpuPerGiB.toFixed(2).padStart(18)} ${row.machineCpuPerGiB.toFixed(2).padStart(19)} ${row.peakRssMiB.toFixed(0).padStart(14)}`,
    );
    return row;
  });
  const bench: PeersBench = { size: args.size, sizeBytes, runs: Number(args.runs), machine, summary, results };
  await mkdir(dirname(args.out), { recursive: true });
  await writeFile(args.out, `${JSON.stringify(bench, null, 2)}\n`);
  log(`wrote ${args.out}`);
  const large = args.out === LARGE_OUT ? undefined : await readOptionalBench(LARGE_OUT);
  for (const line of peersTargets(bench, large)) log(line);
  if (names.length > 1) {
    await writeFile('img/bench-peers.svg', drawPeersPlot(bench, large));
    log(`wrote img/bench-peers.svg${large ? ` (with the engine's ${large.size} run from ${LARGE_OUT})` : ''}`);
  }
  if (!args.dir) await rm(dir, { recursive: true, force: true });
}

await main();
