// A delta update through the real daemon (--once) and the development Omaha server, which honours
// Range: the booted slot A holds 1.0.0, the offer is 2.0.0 with 5% of the image changed. The passive
// slot must end byte-exact, and the closing log line must say most of the image came from slot A.

import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UpdateLab } from '../../src/demo/lab.ts';
import { runDaemon } from '../../src/daemon/main.ts';
import { createLogger } from '../../src/platform/logger.ts';
import { seededBytes } from '../payload/helpers.ts';
import { RecordingRebooter } from '../fakes/recording-rebooter.ts';

const IMAGE_BYTES = 6 * 1024 * 1024;
const OLD = seededBytes(IMAGE_BYTES, 71);
/** 5% of OLD rewritten, in 64 KiB runs spread over the image. */
const NEW = (() => {
  const out = Buffer.from(OLD);
  const fresh = seededBytes(IMAGE_BYTES, 72);
  for (let at = 100 * 4096; at + 65536 <= IMAGE_BYTES; at += 20 * 65536) fresh.copy(out, at, at, at + 65536);
  return out;
})();

let dir: string;
let lab: UpdateLab;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ue-delta-'));
  lab = new UpdateLab({
    dir,
    initialVersion: '1.0.0',
    usrSizeBytes: 8 * 1024 * 1024,
    imageSizeBytes: IMAGE_BYTES,
    makeImage: (version, path) => writeFile(path, version === '1.0.0' ? OLD : NEW),
  });
  await lab.setUp();
});
afterEach(async () => {
  await lab.close();
  await rm(dir, { recursive: true, force: true });
});

async function daemonOnce(extra: Record<string, string>): Promise<{ code: number; lines: Array<Record<string, unknown>> }> {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const code = await runDaemon(lab.settings(extra), {
    once: true,
    logger: createLogger({ level: 'info', destination, pretty: false }),
    signal: new AbortController().signal,
    identityPaths: lab.identityPaths(),
    overrides: { rebooter: new RecordingRebooter() },
  });
  return { code, lines };
}

async function slotB(): Promise<Buffer> {
  const slot = (await lab.slots()).find((s) => s.partition === 4);
  if (!slot) throw new Error('no slot B');
  return (await readFile(lab.disk)).subarray(slot.byteOffset, slot.byteOffset + IMAGE_BYTES);
}

describe('a delta update through the daemon and the dev server', () => {
  it('copies what slot A has, fetches the rest with Range, and slot B is exact', async () => {
    const v2 = await lab.addPayload('2.0.0');
    await lab.serve();
    const { code, lines } = await daemonOnce({});
    expect(code).toBe(0);
    expect((await slotB()).equals(NEW)).toBe(true);
    const closing = lines.find((l) => String(l.msg).startsWith('Delta update:'));
    expect(closing).toMatchObject({ delta: true });
    const payloadBytes = (await readFile(v2.path)).byteLength;
    expect(Number(closing?.bytesFetched)).toBeLessThan(0.15 * payloadBytes);
    expect(Number(closing?.bytesReused)).toBeGreaterThan(0.85 * IMAGE_BYTES);
    const finished = lines.find((l) => l.action === 'apply' && l.msg === 'action finished');
    expect(finished).toMatchObject({ delta: true, bytesReused: closing?.bytesReused, blocksRefetched: 0 });
    expect(closing).toMatchObject({ blocksRefetched: 0 });
  });

  it('fetches the whole payload with DELTA=false, and slot B is exact', async () => {
    const v2 = await lab.addPayload('2.0.0');
    await lab.serve();
    const { code, lines } = await daemonOnce({ delta: 'false' });
    expect(code).toBe(0);
    expect((await slotB()).equals(NEW)).toBe(true);
    const finished = lines.find((l) => l.action === 'apply' && l.msg === 'action finished');
    expect(finished).toMatchObject({ delta: false, bytesReused: 0, blocksRefetched: 0, payloadBytesFetched: (await readFile(v2.path)).byteLength });
  });
});
