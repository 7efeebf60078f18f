// Attacks by a slow or stubborn server (issue 14, point 4): a trickle that stays above the low-speed
// limit is cut off by DOWNLOAD_TIMEOUT (the real daemon, its answer rewritten to point at the trickle
// server); a trickle below the limit by the low-speed guard; a server's huge MaxFailureCountPerUrl is
// capped at 10, and the attempts of one check have a total budget.

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { UpdateLab } from '../../src/demo/lab.ts';
import { runDaemon } from '../../src/daemon/main.ts';
import { silentLogger } from '../../src/platform/logger.ts';
import { GotTransport } from '../../src/omaha/got-transport.ts';
import { createHttpPayloadSource, MAX_FAILURE_COUNT_PER_URL_CAP } from '../../src/omaha/http-payload-source.ts';
import { RecordingRebooter } from '../fakes/recording-rebooter.ts';
import { startFaultServer, type FaultServer } from '../helpers/fault-server.ts';
import { startOmahaRewriter, type OmahaRewriter } from '../helpers/omaha-rewriter.ts';
import { failure } from '../helpers/errors.ts';

let dir: string;
const closers: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of closers.reverse()) await c();
  await rm(dir, { recursive: true, force: true });
});
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ue-slow-'));
});

async function drain(stream: NodeJS.ReadableStream): Promise<void> {
  for await (const _ of stream) void _;
}

describe('DOWNLOAD_TIMEOUT: the whole download has a deadline', () => {
  let lab: UpdateLab;
  afterEach(() => lab.close());

  it('a server trickling 4 KiB every 100 ms (above the low-speed limit) is cut off after DOWNLOAD_TIMEOUT; the slot stays out of the boot order', async () => {
    lab = new UpdateLab({ dir: await mkdtemp(join(dir, 'lab-')), initialVersion: '1.0.0', usrSizeBytes: 4 * 1024 * 1024, imageSizeBytes: 3 * 1024 * 1024 });
    await lab.setUp();
    const p = await lab.addPayload('2.0.0');
    await lab.serve();
    const trickle: FaultServer = await startFaultServer({ content: await readFile(p.path), plan: () => ({ kind: 'trickle', bytes: 4096, intervalMs: 100 }) });
    closers.push(() => trickle.close());
    const mitm: OmahaRewriter = await startOmahaRewriter(
      () => lab.server!.updateUrl,
      (xml) => xml.replaceAll(`${lab.server!.url}/payloads/`, `${trickle.url}/payloads/`),
    );
    closers.push(() => mitm.close());
    const started = Date.now();
    const error = await runDaemon(lab.settings({ server: mitm.updateUrl, downloadTimeoutMs: '2s' }), {
      once: true,
      logger: silentLogger(),
      signal: new AbortController().signal,
      identityPaths: lab.identityPaths(),
      overrides: { rebooter: new RecordingRebooter() },
    }).then(
      () => undefined,
      (e: unknown) => e as { code: string; message: string },
    );
    expect(error?.code).toBe('ERR_DOWNLOAD_TRANSFER');
    expect(error?.message).toContain('DOWNLOAD_TIMEOUT');
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(trickle.bytesSent()).toBeLessThan((await readFile(p.path)).length);
    const b = (await lab.slots()).find((s) => s.partition === 4)!;
    expect(b.priority).toBe(0);
  });
});

describe('retry limits a server cannot lift', () => {
  let server: FaultServer;
  let transport: GotTransport;
  const content = Buffer.alloc(256 * 1024, 7);
  beforeAll(async () => {
    server = await startFaultServer({ content });
    transport = await GotTransport.create({ env: {} });
    closers.push(async () => {
      transport.close();
      await server.close();
    });
  });

  it('a trickle below 10 B/s is cut off by the low-speed guard', async () => {
    server.setFaults(Array.from({ length: 3 }, () => ({ kind: 'trickle' as const, bytes: 1, intervalMs: 200 })));
    const s = createHttpPayloadSource({
      transport,
      urls: [`${server.url}/p`],
      sizeBytes: content.length,
      retryDelayMs: 1,
      lowSpeedTimeMs: 400,
      maxFailureCountPerUrl: 3,
    });
    const e = await failure(s.open([{ start: 0 }], new AbortController().signal).then(drain));
    expect(e.code).toBe('ERR_DOWNLOAD_TRANSFER');
    expect(e.message).toMatch(/below 10 B\/s/);
  });

  it(`MaxFailureCountPerUrl=1000000 from the server is capped at ${MAX_FAILURE_COUNT_PER_URL_CAP}`, async () => {
    server.setFaults(Array.from({ length: 200 }, () => ({ kind: 'status' as const, status: 503 })));
    const before = server.requests.length;
    const s = createHttpPayloadSource({
      transport,
      urls: [`${server.url}/p`],
      sizeBytes: content.length,
      retryDelayMs: 1,
      maxRetryDelayMs: 1,
      maxFailureCountPerUrl: 1_000_000,
    });
    const e = await failure(s.open([{ start: 0 }], new AbortController().signal).then(drain));
    expect(e.code).toBe('ERR_DOWNLOAD_TRANSFER');
    expect(server.requests.length - before).toBe(MAX_FAILURE_COUNT_PER_URL_CAP);
  });

  it('twenty URLs that all fail: the check stops at its total retry budget, not 20 x 10 attempts', async () => {
    server.setFaults(Array.from({ length: 400 }, () => ({ kind: 'status' as const, status: 503 })));
    const before = server.requests.length;
    const urls = Array.from({ length: 20 }, (_, i) => `${server.url}/p${i}`);
    const s = createHttpPayloadSource({
      transport,
      urls,
      sizeBytes: content.length,
      retryDelayMs: 1,
      maxRetryDelayMs: 1,
      maxFailureCountPerUrl: 10,
      maxTotalFailures: 25,
    });
    await failure(s.open([{ start: 0 }], new AbortController().signal).then(drain));
    expect(server.requests.length - before).toBe(25);
  });
});
