// The engine side of the apply benchmark, run as its own process (the internal apply entry point
// until `update-engine daemon --once` can drive it): HTTP payload source (got, Range) -> applyPayload
// -> IO_WRITE_BPS throttle -> write target. Mode "stream" skips the payload layer (HTTP ->
// TargetWriteStream) to show what the IO layer alone does. Prints JSON lines "ready" and "done".

import { createWriteThrottle, type LimitingMechanism } from '../../src/io/write-throttle.ts';
import { BlockDeviceTarget } from '../../src/io/block-device-target.ts';
import { diskHolding } from '../../src/io/block-device.ts';
import { FileRegionTarget } from '../../src/io/file-region-target.ts';
import { TargetWriteStream, type TargetWriteStreamOptions } from '../../src/io/target-write-stream.ts';
import { writeChunks, totalBytes, type WriteTarget } from '../../src/io/write-target.ts';
import { applyPayload } from '../../src/payload/apply.ts';
import { loadKeyring } from '../../src/payload/keyring.ts';
import { GotTransport } from '../../src/omaha/got-transport.ts';
import { createHttpPayloadSource } from '../../src/omaha/http-payload-source.ts';
import { createLogger } from '../../src/platform/logger.ts';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';

export interface EngineJob {
  mode: 'apply' | 'stream';
  url: string;
  payloadSizeBytes: number;
  publicKeyPath: string;
  target: { kind: 'file'; path: string; offsetBytes: number; lengthBytes: number } | { kind: 'device'; path: string };
  ioWriteBytesPerSecond: number;
  mechanisms?: LimitingMechanism[];
  readBack: boolean;
  rssSampleMs: number;
  /** Options of the write stream in "stream" mode (defaults otherwise). */
  streamOptions?: TargetWriteStreamOptions;
}

export interface EngineReady {
  event: 'ready';
  startupMs: number;
}

export interface EngineDone {
  event: 'done';
  applyMs: number;
  imageBytes: number;
  payloadBytesFetched: number;
  peakRssBytes: number;
  rssSamples: [number, number][];
  /** [ms since the apply started, bytes the target has taken], sampled with the RSS. */
  writeSamples: [number, number][];
  mechanism: string;
  /** Bytes written per second from the start of the first write to the end of the last sync. */
  writeBytesPerSecond: number;
  /**
   * [ms, bytes] written to the disk by us, where that can be told apart: a loop device's own count of
   * completed writes ("device"), else our cgroup's count, which blkio takes when a write is submitted,
   * before the throttle holds it ("cgroup").
   */
  diskSamples?: [number, number][];
  diskSamplesSource?: 'device' | 'cgroup';
}

/** Counts written bytes, from the start of the first write to the end of the last sync. */
class CountingTarget implements WriteTarget {
  firstWriteStartMs: number | undefined;
  lastSyncEndMs = 0;
  bytes = 0;
  constructor(private readonly inner: WriteTarget) {}
  get description() {
    return this.inner.description;
  }
  get sizeBytes() {
    return this.inner.sizeBytes;
  }
  open() {
    return this.inner.open();
  }
  async write(data: Uint8Array, offset: number) {
    this.firstWriteStartMs ??= performance.now();
    await this.inner.write(data, offset);
    this.bytes += data.byteLength;
  }
  async writev(chunks: readonly Uint8Array[], offset: number) {
    this.firstWriteStartMs ??= performance.now();
    await writeChunks(this.inner, chunks, offset);
    this.bytes += totalBytes(chunks);
  }
  async sync() {
    await this.inner.sync();
    this.lastSyncEndMs = performance.now();
  }
  read(offset: number, length: number) {
    return this.inner.read(offset, length);
  }
  close() {
    return this.inner.close();
  }
  rate(): number {
    const start = this.firstWriteStartMs;
    return start === undefined || this.lastSyncEndMs <= start ? 0 : (this.bytes * 1000) / (this.lastSyncEndMs - start);
  }
}

/** Sectors written to a whole disk, from /sys/block/<name>/stat (field 7). */
async function diskWrittenBytes(name: string): Promise<number | undefined> {
  const text = await readFile(`/sys/block/${name}/stat`, 'utf8').catch(() => undefined);
  const sectors = text?.trim().split(/\s+/)[6];
  return sectors === undefined ? undefined : Number(sectors) * 512;
}

async function cgroupWrittenBytes(cgroupDir: string | undefined, disk: { major: number; minor: number } | undefined): Promise<number | undefined> {
  if (!cgroupDir || !disk) return undefined;
  for (const file of ['blkio.throttle.io_service_bytes', 'io.stat']) {
    const text = await readFile(join(cgroupDir, file), 'utf8').catch(() => undefined);
    if (text === undefined) continue;
    const v1 = new RegExp(`^${disk.major}:${disk.minor} Write (\\d+)$`, 'm').exec(text);
    if (v1) return Number(v1[1]);
    const v2 = new RegExp(`^${disk.major}:${disk.minor} .*\\bwbytes=(\\d+)`, 'm').exec(text);
    if (v2) return Number(v2[1]);
  }
  return undefined;
}

async function main(job: EngineJob): Promise<void> {
  const logger = createLogger({ level: 'warn', pretty: false });
  const keyring = await loadKeyring(job.publicKeyPath);
  const transport = await GotTransport.create({ systemCaBundles: [] });
  const source = createHttpPayloadSource({ transport, urls: [job.url], sizeBytes: job.payloadSizeBytes, logger });
  const base: WriteTarget =
    job.target.kind === 'file'
      ? new FileRegionTarget(job.target.path, job.target.offsetBytes, job.target.lengthBytes)
      : await BlockDeviceTarget.probe(job.target.path);
  const throttle = await createWriteThrottle({
    bytesPerSecond: job.ioWriteBytesPerSecond,
    targetDevice: job.target.path,
    logger,
    ...(job.mechanisms ? { mechanisms: job.mechanisms } : {}),
  });
  const counting = new CountingTarget(throttle.wrap(base));
  // What the disk received from us: a loop device nobody else writes to, else our cgroup's count.
  const loopDisk = await diskHolding(job.target.path).then((d) => (d.name.startsWith('loop') ? d : undefined), () => undefined);
  const diskSamplesSource = loopDisk ? 'device' : throttle.cgroupDir ? 'cgroup' : undefined;
  const diskBytes = async (): Promise<number | undefined> =>
    loopDisk ? diskWrittenBytes(loopDisk.name) : throttle.cgroupDir ? cgroupWrittenBytes(throttle.cgroupDir, throttle.disk) : undefined;
  const diskAtStart = (await diskBytes()) ?? 0;
  process.stdout.write(`${JSON.stringify({ event: 'ready', startupMs: performance.now() } satisfies EngineReady)}\n`);

  const samples: [number, number][] = [];
  const writeSamples: [number, number][] = [];
  const started = performance.now();
  const diskSamples: [number, number][] = [];
  const sampler = setInterval(() => {
    const ms = Math.round(performance.now() - started);
    samples.push([ms, process.memoryUsage.rss()]);
    writeSamples.push([ms, counting.bytes]);
    // Stamped when the count was read (the read itself may wait on a busy event loop).
    void diskBytes().then((b) => b !== undefined && diskSamples.push([Math.round(performance.now() - started), b - diskAtStart]));
  }, job.rssSampleMs);
  let imageBytes: number;
  let fetched: number;
  try {
    if (job.mode === 'apply') {
      const result = await applyPayload(source.open, {
        target: counting,
        keyring,
        expect: { appId: '{bench}', allowDowngrade: true },
        readBack: job.readBack,
        logger,
      });
      imageBytes = result.manifest.imageSize;
      fetched = result.payloadBytesFetched;
    } else {
      await counting.open();
      const stream = new TargetWriteStream(counting, job.streamOptions ?? {});
      await pipeline(await source.open([{ start: 0 }], new AbortController().signal), stream);
      await counting.close();
      imageBytes = fetched = stream.bytesWritten;
    }
  } finally {
    clearInterval(sampler);
  }
  const applyMs = performance.now() - started;
  await throttle.dispose();
  const done: EngineDone = {
    event: 'done',
    applyMs,
    imageBytes,
    payloadBytesFetched: fetched,
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    rssSamples: samples,
    writeSamples,
    ...(diskSamples.length > 0 && diskSamplesSource ? { diskSamples, diskSamplesSource } : {}),
    mechanism: throttle.mechanism,
    writeBytesPerSecond: counting.rate(),
  };
  process.stdout.write(`${JSON.stringify(done)}\n`);
}

const arg = process.argv[2];
if (!arg) {
  process.stderr.write('usage: engine-child.ts JOB_JSON\n');
  process.exit(2);
}
main(JSON.parse(arg) as EngineJob).then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
