// The download feeding the real payload apply, through the fault-injecting server: every fault ends
// in a complete, verified image or a precise error with nothing unverified on the target; kills at
// random points resume from the checkpoint, fetching again less than one interval plus the header.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UpdateEngineError } from '../../src/errors.ts';
import { FileRegionTarget } from '../../src/io/file-region-target.ts';
import { GotTransport } from '../../src/omaha/got-transport.ts';
import { createHttpPayloadSource, type HttpPayloadSource } from '../../src/omaha/http-payload-source.ts';
import { checkPayloadAgainstOffer } from '../../src/omaha/offer.ts';
import { applyPayload, type ApplyCheckpoint, type ApplyOptions, type ApplyResult, type CheckpointStore } from '../../src/payload/apply.ts';
import { FileCheckpointStore } from '../../src/payload/checkpoint-store.ts';
import { startFaultServer, type Fault, type FaultServer } from '../helpers/fault-server.ts';
import { makeTestPayload, testKeyring, type TestPayload } from '../helpers/omaha-server.ts';
import { failure } from '../helpers/errors.ts';

const dir = mkdtempSync(join(tmpdir(), 'payload-download-'));
const APP = '{4d3c2f2a-9b8e-4a1c-8f5e-2b7d6c1a9e30}';
const BLOCK = 64 * 1024;
const EVERY_BLOCKS = 16; // a checkpoint every 1 MiB of image
const IN_FLIGHT = 4 * BLOCK;
const SYNC_EVERY = 4 * BLOCK;
const PATTERN = 0xa5;

let payload: TestPayload;
let bytes: Buffer;
let server: FaultServer;
let transport: GotTransport;
let disk: string;
let run = 0;

beforeAll(async () => {
  payload = await makeTestPayload(dir, { version: '2.0.0', imageBytes: 6 * 1024 * 1024 + 1234, blockSizeBytes: BLOCK });
  bytes = await readFile(payload.path);
  server = await startFaultServer({ content: bytes });
  transport = await GotTransport.create({ env: {} });
  disk = join(dir, 'disk.img');
});
afterAll(async () => {
  transport.close();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

function freshDisk(): void {
  writeFileSync(disk, Buffer.alloc(payload.image.length, PATTERN));
}

function source(): HttpPayloadSource {
  return createHttpPayloadSource({ transport, urls: [`${server.url}/update.payload`], sizeBytes: bytes.length, retryDelayMs: 1, lowSpeedTimeMs: 500 });
}

function apply(open: HttpPayloadSource['open'], extra: Partial<ApplyOptions> = {}): Promise<ApplyResult> {
  return applyPayload(open, {
    target: new FileRegionTarget(disk, 0, payload.image.length),
    keyring: testKeyring(),
    expect: { appId: APP, runningVersion: '1.0.0', allowDowngrade: false },
    maxInFlightBytes: IN_FLIGHT,
    syncEveryBytes: SYNC_EVERY,
    ...extra,
  });
}

/** Every block of the target is either untouched (the pattern) or exactly the image's block. */
async function onlyVerifiedBlocks(): Promise<{ written: number; untouched: number }> {
  const region = await readFile(disk);
  let written = 0;
  let untouched = 0;
  for (let offset = 0; offset < region.length; offset += BLOCK) {
    const got = region.subarray(offset, offset + BLOCK);
    if (got.equals(payload.image.subarray(offset, offset + BLOCK))) written += 1;
    else if (got.every((b) => b === PATTERN)) untouched += 1;
    else throw new Error(`block at ${offset} holds bytes that are neither the image nor untouched`);
  }
  return { written, untouched };
}

describe('download into the apply, through faults', () => {
  const recovered: Array<[string, Fault[]]> = [
    [
      'resets at three points',
      [
        { kind: 'reset-after', bytes: 100_000 },
        { kind: 'reset-after', bytes: 2_000_000 },
        { kind: 'reset-after', bytes: 7 },
      ],
    ],
    ['a stall', [{ kind: 'stall-after', bytes: 3_000_000 }]],
    [
      '503 twice',
      [
        { kind: 'status', status: 503 },
        { kind: 'status', status: 503 },
      ],
    ],
    ['a short Content-Length', [{ kind: 'wrong-length', delta: -1_000_000 }]],
    ['a reset, then a server that ignores Range', [{ kind: 'reset-after', bytes: 4_000_000 }, { kind: 'ignore-range' }]],
  ];
  for (const [name, faults] of recovered) {
    it(`completes a verified image after ${name}, fetching nothing twice but ignored-Range prefixes`, async () => {
      freshDisk();
      server.setFaults(faults);
      const s = source();
      const result = await apply(s.open);
      expect(
        checkPayloadAgainstOffer(
          { version: '2.0.0', sizeBytes: bytes.length, sha256Base64: payload.payloadSha256Base64 },
          { sizeBytes: result.payloadSizeBytes, sha256Base64: result.payloadSha256Base64 },
        ),
      ).toBe(true);
      expect((await readFile(disk)).equals(payload.image)).toBe(true);
      const stats = s.stats();
      expect(stats.bytesDelivered).toBe(bytes.length);
      expect(stats.bytesReceived - stats.bytesDiscarded).toBe(bytes.length);
    });
  }

  it('stops at a corrupt data byte with ERR_PAYLOAD_HASH_MISMATCH, leaving only verified blocks', async () => {
    freshDisk();
    const corruptAt = payload.dataOffset + 3 * 1024 * 1024 + 5;
    server.setFaults([{ kind: 'corrupt', offset: corruptAt }]);
    const e = await failure(apply(source().open));
    expect(e.code).toBe('ERR_PAYLOAD_HASH_MISMATCH');
    const blocks = await onlyVerifiedBlocks();
    expect(blocks.untouched).toBeGreaterThan(0);
    const region = await readFile(disk);
    const badBlock = Math.floor((corruptAt - payload.dataOffset) / BLOCK);
    expect(region.subarray(badBlock * BLOCK, (badBlock + 1) * BLOCK).every((b) => b === PATTERN)).toBe(true);
  });

  it('refuses a corrupt header before writing anything', async () => {
    freshDisk();
    server.setFaults([{ kind: 'corrupt', offset: 600 }]);
    const e = await failure(apply(source().open));
    expect(['ERR_PAYLOAD_SIGNATURE', 'ERR_PAYLOAD_FORMAT']).toContain(e.code);
    expect(await onlyVerifiedBlocks()).toEqual({ written: 0, untouched: Math.ceil(payload.image.length / BLOCK) });
  });

  it('gives up with a precise error when every attempt fails, leaving only verified blocks', async () => {
    freshDisk();
    server.setFaults([{ kind: 'reset-after', bytes: 1_500_000 }, ...Array.from({ length: 12 }, () => ({ kind: 'status' as const, status: 500 }))]);
    const e = await failure(apply(source().open));
    expect(e.code).toBe('ERR_DOWNLOAD_TRANSFER');
    expect(e.message).toContain('HTTP 500');
    await onlyVerifiedBlocks();
    server.setFaults([]);
  });
});

/** A checkpoint store that stops saving once the process is "killed" (SIGKILL: no save on the way out). */
function killableStore(inner: CheckpointStore): CheckpointStore & { kill(): void } {
  let killed = false;
  return {
    kill: () => void (killed = true),
    load: () => inner.load(),
    save: async (cp) => {
      if (!killed) await inner.save(cp);
    },
    clear: () => inner.clear(),
  };
}

interface KillFigure {
  /** Payload bytes the first apply had consumed when it was killed. */
  consumed: number;
  /** Where the resume point said to continue (0: none was saved). */
  resumeOffset: number;
  /** Bytes the second download delivered. */
  resumeFetched: number;
  /** Of those, bytes the first apply had already consumed. */
  refetched: number;
}

/** Applies, kills after `killAt` payload bytes consumed, resumes with a new source (a restarted daemon). */
async function killAndResume(killAt: number, how: 'SIGTERM' | 'SIGKILL'): Promise<KillFigure> {
  freshDisk();
  server.setFaults([]);
  const inner = new FileCheckpointStore(join(dir, `state-${how}-${run++}`));
  const store = killableStore(inner);
  const controller = new AbortController();
  let consumed = 0;
  const first = apply(source().open, {
    checkpoint: { store, everyBlocks: EVERY_BLOCKS },
    signal: controller.signal,
    onProgress: (p) => {
      consumed = p.payloadBytesFetched;
      if (consumed >= killAt && !controller.signal.aborted) {
        if (how === 'SIGKILL') store.kill();
        controller.abort(new UpdateEngineError('ERR_ABORTED', `Stopped by ${how}`));
      }
    },
  });
  expect((await failure(first)).code).toBe('ERR_ABORTED');
  if (how === 'SIGTERM') expect(await inner.load()).toBeDefined();
  // The restarted daemon: record the resume point it finds (a save still under way may land late).
  let saved: ApplyCheckpoint | undefined;
  const restarted: CheckpointStore = {
    load: async () => (saved = await inner.load()),
    save: (cp) => inner.save(cp),
    clear: () => inner.clear(),
  };
  const s = source();
  const result = await apply(s.open, { checkpoint: { store: restarted, everyBlocks: EVERY_BLOCKS } });
  expect(result.resumed).toBe(saved !== undefined);
  expect((await readFile(disk)).equals(payload.image)).toBe(true);
  const resumeFetched = s.stats().bytesDelivered;
  // The download fetched exactly what the resumed apply asked for: the header, then the rest from the resume point.
  expect(resumeFetched).toBe(saved ? saved.dataOffset + bytes.length - saved.resumeOffset : bytes.length);
  return { consumed, resumeOffset: saved?.resumeOffset ?? 0, resumeFetched, refetched: resumeFetched - (bytes.length - consumed) };
}

// Kill points stop short of the end by more than the bytes in flight: a kill that lands after the
// last block was received can find the apply already finished (it then has nothing to resume).
describe('resume after kills at random points', () => {
  const interval = EVERY_BLOCKS * BLOCK;

  it('SIGTERM: fetches again less than one checkpoint interval plus the header', async () => {
    const figures: KillFigure[] = [];
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: payload.dataOffset + 2 * BLOCK, max: bytes.length - IN_FLIGHT - 4 * BLOCK }), async (killAt) => {
        const f = await killAndResume(killAt, 'SIGTERM');
        figures.push(f);
        expect(f.refetched).toBeLessThan(interval + payload.dataOffset);
      }),
      { numRuns: 6, seed: 4242 },
    );
    report('SIGTERM', figures);
  });

  it('SIGKILL: resumes from the last durable resume point, fetching again less than one interval plus the header', async () => {
    const figures: KillFigure[] = [];
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: payload.dataOffset + 2 * BLOCK, max: bytes.length - IN_FLIGHT - 4 * BLOCK }), async (killAt) => {
        const f = await killAndResume(killAt, 'SIGKILL');
        figures.push(f);
        expect(f.refetched).toBe(f.resumeOffset === 0 ? f.consumed : payload.dataOffset + f.consumed - f.resumeOffset);
        expect(f.refetched).toBeLessThan(interval + payload.dataOffset);
      }),
      { numRuns: 6, seed: 4343 },
    );
    report('SIGKILL', figures);
  });

  function report(how: string, figures: KillFigure[]): void {
    const worst = Math.max(...figures.map((f) => f.refetched));
    console.log(
      `resume after ${how} (payload ${bytes.length} B, header ${payload.dataOffset} B, checkpoint every ${interval} B, ` +
        `sync every ${SYNC_EVERY} B, ${IN_FLIGHT} B in flight): fetched again ${figures.map((f) => f.refetched).join(', ')} B; ` +
        `worst ${worst} B = ${(worst / interval).toFixed(2)} interval`,
    );
  }
});
