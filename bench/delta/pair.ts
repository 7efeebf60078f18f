// One pair of the delta benchmark: v1 and v2 images of one filesystem kind, the v2 payload made by
// `update-engine payload create` (its default output), a GPT disk image whose booted slot (USR-A,
// partition 3) holds v1, and a casync chunk store of v2. Then the three ways to get v2 into place,
// each counted at the server (nginx's access log) and checked byte for byte: the engine's full apply
// (DELTA=false), its delta apply (DELTA=true, the default) and casync extract with v1 as seed.

import { createReadStream } from 'node:fs';
import { mkdir, open, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { execArgv } from '../../src/platform/exec.ts';
import { createDiskImage } from '../../src/slots/index.ts';
import { runDaemon } from '../apply/daemon-run.ts';
import { PRIVATE_KEY, PUBLIC_KEY, readGpt, writeGpt, type SavedGpt } from '../apply/fixtures.ts';
import type { Nginx } from '../../test/helpers/nginx.ts';
import { casyncExtract, casyncMake } from './casync.ts';
import { makeImage, type ImageKind } from './images.ts';

const MiB = 1024 * 1024;
export const V2_VERSION = '2.0.0';

export interface Pair {
  kind: ImageKind;
  v1Path: string;
  v2Path: string;
  v1Bytes: number;
  v2Bytes: number;
  payloadPath: string;
  payloadBytes: number;
  /** From `payload inspect`: formatVersion, chunkScheme (when the payload is delta-capable), compression. */
  manifest: Record<string, unknown>;
  diskPath: string;
  slotB: { offset: number; length: number };
  gpt: SavedGpt;
  /** Holds store/ and v2.caibx; nginx serves it at /casync/. */
  casyncDir: string;
}

export interface MethodRun {
  /** Spawn to exit (the engine: its whole `daemon --once`; casync: extract and a final sync). */
  seconds: number;
  /** What the server sent: bytes with headers, bodies only, and the number of requests. */
  fetchedBytes: number;
  fetchedBodyBytes: number;
  requests: number;
  /** The engine's apply action alone, and its own closing figures when it logs them. */
  applySeconds?: number;
  engineBytesFetched?: number;
  engineBytesReused?: number;
  /** Blocks built from the seed that did not match and were fetched again: the seed never changes here, so any is a fault. */
  engineBlocksRefetched?: number;
  peakRssBytes?: number;
}

async function run(argv: string[]): Promise<string> {
  const r = await execArgv(argv, { timeoutMs: 600_000 });
  if (r.exitCode !== 0) throw new Error(`${argv.join(' ')} failed (${r.exitCode}): ${r.stderr.trim()}`);
  return r.stdout;
}

/** Copies the file `source` into `target` at byte `offset` (no truncation). */
async function copyInto(source: string, target: string, offset: number): Promise<void> {
  const fh = await open(target, 'r+');
  try {
    let at = offset;
    for await (const chunk of createReadStream(source, { highWaterMark: 4 * MiB })) {
      const data = chunk as Buffer;
      await fh.write(data, 0, data.length, at);
      at += data.length;
    }
    await fh.datasync();
  } finally {
    await fh.close();
  }
}

/** Fails unless `actual` holds `expected`'s bytes at `offset`. */
export async function checkBytes(expected: string, expectedBytes: number, actual: string, offset: number, what: string): Promise<void> {
  const r = await execArgv(['cmp', '-s', '-n', String(expectedBytes), '-i', `0:${offset}`, expected, actual]);
  if (r.exitCode !== 0) throw new Error(`${what}: the result is not byte-exact v2 (cmp exit ${r.exitCode})`);
}

/** Builds the pair's images, payload, disk (v1 in slot A) and casync store under `dir`. */
export async function preparePair(kind: ImageKind, dir: string, trees: { v1: string; v2: string; bytes: number }, entry: string): Promise<Pair> {
  await mkdir(dir, { recursive: true });
  const v1Path = join(dir, 'v1.img');
  const v2Path = join(dir, 'v2.img');
  const v1Bytes = await makeImage(kind, trees.v1, v1Path, trees.bytes);
  const v2Bytes = await makeImage(kind, trees.v2, v2Path, trees.bytes);
  const payloads = join(dir, 'payloads');
  await mkdir(payloads, { recursive: true });
  const payloadPath = join(payloads, 'v2.payload');
  await run([process.execPath, entry, 'payload', 'create', '--image', v2Path, '--private-key', PRIVATE_KEY, '--version', V2_VERSION, '--out', payloadPath]);
  const manifest = JSON.parse(await run([process.execPath, entry, 'payload', 'inspect', payloadPath])) as Record<string, unknown>;
  const diskPath = join(dir, 'disk.img');
  const usrSizeBytes = Math.ceil((Math.max(v1Bytes, v2Bytes) + 16 * MiB) / MiB) * MiB;
  const disk = await createDiskImage(diskPath, { usrSizeBytes, overwrite: true });
  const slot = (n: number) => {
    const p = disk.partitions.find((x) => x.partition === n);
    if (!p) throw new Error(`the disk image has no partition ${n}`);
    return { offset: p.byteOffset, length: p.byteLength };
  };
  await copyInto(v1Path, diskPath, slot(3).offset);
  const casyncDir = join(dir, 'casync');
  await casyncMake(v2Path, join(casyncDir, 'store'), join(casyncDir, 'v2.caibx'));
  return {
    kind,
    v1Path,
    v2Path,
    v1Bytes,
    v2Bytes,
    payloadPath,
    payloadBytes: (await stat(payloadPath)).size,
    manifest,
    diskPath,
    slotB: slot(4),
    gpt: await readGpt(diskPath, disk.sizeBytes),
    casyncDir,
  };
}

/** The engine's `daemon --once` from slot A (v1) into slot B (emptied first), DELTA on or off. */
export async function runEngine(pair: Pair, nginx: Nginx, entry: string, nodeArgs: string[], runDir: string, delta: boolean): Promise<MethodRun> {
  await run(['fallocate', '--punch-hole', '--keep-size', '--offset', String(pair.slotB.offset), '--length', String(pair.slotB.length), pair.diskPath]);
  await writeGpt(pair.gpt, pair.diskPath);
  const mark = await nginx.mark();
  const r = await runDaemon({
    entry,
    nodeArgs,
    serverUrl: `${nginx.origin}/v1/update/`,
    disk: pair.diskPath,
    publicKeyPath: PUBLIC_KEY,
    runDir,
    ioWriteBytesPerSecond: 0,
    settings: { DELTA: delta ? 'true' : 'false' },
  });
  const served = await nginx.sentSince(mark, '/payloads/');
  await checkBytes(pair.v2Path, pair.v2Bytes, pair.diskPath, pair.slotB.offset, `engine ${delta ? 'delta' : 'full'} apply of ${pair.kind}`);
  const figure = (key: string) => (typeof r.apply[key] === 'number' ? (r.apply[key] as number) : undefined);
  const out: MethodRun = {
    seconds: r.totalMs / 1000,
    fetchedBytes: served.bytes,
    fetchedBodyBytes: served.bodyBytes,
    requests: served.requests,
    applySeconds: Number(r.apply.durationMs) / 1000,
    peakRssBytes: r.peakRssBytes,
  };
  const fetched = figure('bytesFetched') ?? figure('payloadBytesFetched');
  const reused = figure('bytesReused');
  if (fetched !== undefined) out.engineBytesFetched = fetched;
  if (reused !== undefined) out.engineBytesReused = reused;
  const refetched = figure('blocksRefetched');
  if (refetched !== undefined) out.engineBlocksRefetched = refetched;
  return out;
}

/** casync extract of v2 (index and chunks over HTTP from nginx) with the v1 image as seed, then a sync. */
export async function runCasync(pair: Pair, nginx: Nginx, out: string): Promise<MethodRun> {
  const mark = await nginx.mark();
  const started = performance.now();
  await casyncExtract(`${nginx.origin}/casync/store/`, `${nginx.origin}/casync/v2.caibx`, pair.v1Path, out);
  await run(['sync', out]);
  const seconds = (performance.now() - started) / 1000;
  const served = await nginx.sentSince(mark, '/casync/');
  await checkBytes(pair.v2Path, pair.v2Bytes, out, 0, `casync extract of ${pair.kind}`);
  await rm(out, { force: true });
  return { seconds, fetchedBytes: served.bytes, fetchedBodyBytes: served.bodyBytes, requests: served.requests };
}
