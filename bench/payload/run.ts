// Apply throughput from a local file: a random image (1 GiB by default) into a region of a disk image
// file, with and without the read-back, against `cat payload | dd of=disk bs=1M conv=notrunc,fsync`
// on the same target in the same run. Medians of N runs; peak RSS of each apply process.
// Usage: node bin/run-ts.js bench/payload/run.ts [--size-mib 1024] [--runs 3] [--dir DIR] [--keep]
// Prints a table and writes bench/out/payload-apply.json.

import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, openSync, closeSync, writeSync, rmSync, writeFileSync, ftruncateSync } from 'node:fs';
import { tmpdir, cpus, totalmem, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const MIB = 1024 * 1024;
const { values } = parseArgs({
  options: { 'size-mib': { type: 'string', default: '1024' }, runs: { type: 'string', default: '3' }, dir: { type: 'string' }, keep: { type: 'boolean' } },
});
const sizeBytes = Number(values['size-mib']) * MIB;
const runs = Number(values.runs);
const work = mkdtempSync(join(values.dir ?? tmpdir(), 'bench-payload-'));
const regionOffset = MIB;
const regionLength = sizeBytes + MIB;

function writeRandomImage(path: string): string {
  const fd = openSync(path, 'w');
  const hash = createHash('sha256');
  const chunk = Buffer.allocUnsafe(4 * MIB);
  for (let done = 0; done < sizeBytes; done += chunk.byteLength) {
    randomFillSync(chunk);
    hash.update(chunk);
    writeSync(fd, chunk);
  }
  closeSync(fd);
  return hash.digest('hex');
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

/** `cat payload | dd` into the region; wall seconds and the CPU seconds of both processes (bash's time). */
function ddBaseline(payload: string, disk: string): { seconds: number; cpuSeconds: number } {
  const started = performance.now();
  const script = `TIMEFORMAT='%U %S'; time (cat "$1" | dd of="$2" bs=1M seek=1 conv=notrunc,fsync status=none)`;
  const r = spawnSync('bash', ['-c', script, 'bash', payload, disk], { encoding: 'utf8', stdio: ['ignore', 'inherit', 'pipe'] });
  if (r.status !== 0) throw new Error(`dd baseline failed: ${r.stderr}`);
  const seconds = (performance.now() - started) / 1000;
  const [user, sys] = r.stderr.trim().split('\n').at(-1)?.split(' ').map(Number) ?? [0, 0];
  return { seconds, cpuSeconds: (user ?? 0) + (sys ?? 0) };
}

interface ApplyFigures {
  seconds: number;
  maxRssBytes: number;
  userSeconds: number;
  systemSeconds: number;
  imageSha256Hex: string;
}

function applyOnce(payload: string, disk: string, pub: string, readBack: boolean): ApplyFigures {
  const args = [join(REPO, 'bin/run-ts.js'), join(REPO, 'bench/payload/apply-once.ts'), payload, disk, String(regionOffset), String(regionLength), pub];
  if (!readBack) args.push('--no-read-back');
  const out = execFileSync(process.execPath, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return JSON.parse(out.trim().split('\n').at(-1) as string) as ApplyFigures;
}

try {
  const image = join(work, 'image.bin');
  const payload = join(work, 'image.payload');
  const disk = join(work, 'disk.img');
  const key = join(work, 'bench.pem');
  const pub = join(work, 'bench.pub.pem');
  execFileSync('openssl', ['genpkey', '-algorithm', 'ed25519', '-out', key]);
  execFileSync('openssl', ['pkey', '-in', key, '-pubout', '-out', pub]);
  process.stdout.write(`bench/payload: ${sizeBytes / MIB} MiB image, ${runs} runs each, in ${work}\n`);
  const imageSha = writeRandomImage(image);
  const createOut = execFileSync(process.execPath, [join(REPO, 'bin/run-ts.js'), join(REPO, 'bench/payload/create-once.ts'), image, payload, key], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const created = JSON.parse(createOut.trim().split('\n').at(-1) as string) as {
    seconds: number;
    maxRssBytes: number;
    cpuSeconds: number;
    payloadSizeBytes: number;
    blockSizeBytes: number;
  };
  const createSeconds = created.seconds;
  rmSync(image);
  // The disk: the region plus 1 MiB on each side, fully written once so that every run overwrites allocated blocks.
  const fd = openSync(disk, 'w');
  ftruncateSync(fd, regionOffset + regionLength + MIB);
  closeSync(fd);
  ddBaseline(payload, disk);

  const rows: Record<string, { seconds: number[]; rss: number[]; cpu: number[] }> = {
    dd: { seconds: [], rss: [], cpu: [] },
    'apply+read-back': { seconds: [], rss: [], cpu: [] },
    apply: { seconds: [], rss: [], cpu: [] },
  };
  for (let i = 0; i < runs; i++) {
    const dd = ddBaseline(payload, disk);
    rows.dd?.seconds.push(dd.seconds);
    rows.dd?.cpu.push(dd.cpuSeconds);
    for (const readBack of [true, false]) {
      const f = applyOnce(payload, disk, pub, readBack);
      if (f.imageSha256Hex !== imageSha) throw new Error('apply wrote a different image');
      const row = rows[readBack ? 'apply+read-back' : 'apply'];
      row?.seconds.push(f.seconds);
      row?.rss.push(f.maxRssBytes);
      row?.cpu.push(f.userSeconds + f.systemSeconds);
    }
  }
  const baseline = median(rows.dd?.seconds ?? []);
  const result = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryBytes: totalmem(), node: process.version, loadAverageAtEnd: loadavg() },
    imageBytes: sizeBytes,
    payloadBytes: created.payloadSizeBytes,
    blockSizeBytes: created.blockSizeBytes,
    create: { seconds: createSeconds, peakRssBytes: created.maxRssBytes, cpuSeconds: created.cpuSeconds },
    runs,
    results: Object.fromEntries(
      Object.entries(rows).map(([name, r]) => {
        const s = median(r.seconds);
        return [
          name,
          {
            medianSeconds: s,
            seconds: r.seconds,
            mibPerSecond: sizeBytes / MIB / s,
            vsBaseline: baseline / s,
            peakRssBytes: r.rss.length ? Math.max(...r.rss) : undefined,
            medianCpuSeconds: r.cpu.length ? median(r.cpu) : undefined,
          },
        ];
      }),
    ),
  };
  process.stdout.write(
    `create: ${createSeconds.toFixed(2)} s, peak RSS ${(created.maxRssBytes / MIB).toFixed(0)} MiB; load average ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')} (other work on the machine skews the figures)\n`,
  );
  process.stdout.write('what              median s   MiB/s   x baseline   peak RSS MiB   CPU s\n');
  for (const [name, r] of Object.entries(result.results)) {
    const rss = r.peakRssBytes === undefined ? '-' : (r.peakRssBytes / MIB).toFixed(0);
    const cpu = r.medianCpuSeconds === undefined ? '-' : r.medianCpuSeconds.toFixed(2);
    process.stdout.write(
      `${name.padEnd(16)} ${r.medianSeconds.toFixed(2).padStart(9)} ${r.mibPerSecond.toFixed(0).padStart(7)} ${r.vsBaseline.toFixed(2).padStart(12)} ${rss.padStart(14)} ${cpu.padStart(7)}\n`,
    );
  }
  mkdirSync(join(REPO, 'bench/out'), { recursive: true });
  writeFileSync(join(REPO, 'bench/out/payload-apply.json'), `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write('wrote bench/out/payload-apply.json\n');
} finally {
  if (!values.keep) rmSync(work, { recursive: true, force: true });
}
