// Fuzz property of the whole update cycle: the real daemon (--once) against the lab's Omaha server
// serving a mutated payload (with an offer that matches the mutated file, or the original's). The
// passive slot is never flipped unless its bytes are the signed image, the running slot never
// changes, the GPT stays valid, and a later valid update still lands exactly.

import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runDaemon } from '../../../src/daemon/main.ts';
import { UpdateLab, TEST_PRIVATE_KEY } from '../../../src/demo/lab.ts';
import { createPayload } from '../../../src/payload/create.ts';
import { serializeSignatures } from '../../../src/payload/signature.ts';
import { signWithPrivateKey } from '../../../src/payload/signers.ts';
import type { Clock } from '../../../src/platform/clock.ts';
import { silentLogger } from '../../../src/platform/logger.ts';
import { sgdiskVerify } from '../../helpers/disk-image.ts';
import { ED2_PRIVATE } from '../../payload/helpers.ts';
import { countOutcome, ensure, ensureEngineError, fuzzProperty, withoutStrayErrors, type FuzzSuite } from './fuzz-suite.ts';
import { payloadMutationArb, splitTar, type PayloadMutation } from './payload-mutations.ts';

const IMAGE_BYTES = 1024 * 1024;

async function slotBytes(lab: UpdateLab, partition: number, length: number): Promise<Buffer> {
  const slot = (await lab.slots()).find((s) => s.partition === partition);
  ensure(slot, `partition ${partition} is gone`);
  const disk = await readFile(lab.disk);
  return disk.subarray(slot.byteOffset, slot.byteOffset + length);
}

async function pendingVersion(lab: UpdateLab): Promise<string | undefined> {
  const text = await readFile(join(lab.stateDir, 'state.json'), 'utf8').catch(() => '{}');
  return (JSON.parse(text) as { pendingUpdate?: { version: string } }).pendingUpdate?.version;
}

/** A clock whose sleeps return at once and move its time forward: retries and backoffs happen, without the wait. */
export function fastForwardClock(): Clock {
  let skippedMs = 0;
  return {
    now: () => Date.now() + skippedMs,
    monotonicMs: () => performance.now() + skippedMs,
    sleep: async (ms, signal) => {
      signal?.throwIfAborted();
      skippedMs += Math.max(0, ms);
      await new Promise((resolve) => setImmediate(resolve));
    },
  };
}

/** One daemon cycle; returns the error code when it failed (which must be an UpdateEngineError). */
async function cycle(lab: UpdateLab): Promise<string> {
  return withoutStrayErrors(async () => {
    try {
      const code = await runDaemon(lab.settings(), {
        once: true,
        clock: fastForwardClock(),
        logger: silentLogger(),
        signal: new AbortController().signal,
        identityPaths: lab.identityPaths(),
        transportOptions: { env: {}, systemCaBundles: [] },
      });
      return code === 0 ? 'ok' : `exit ${code}`;
    } catch (e) {
      return ensureEngineError(e, { prefixes: ['ERR_'] }, 'runDaemon').code;
    }
  });
}

/** Descriptors of this process that still point at `path`. */
async function openDescriptors(path: string): Promise<string[]> {
  const fds = await readdir('/proc/self/fd').catch(() => []);
  const targets = await Promise.all(
    fds.map((fd) =>
      readlink(`/proc/self/fd/${fd}`).then(
        (t) => [fd, t] as const,
        () => [fd, ''] as const,
      ),
    ),
  );
  return targets.filter(([, t]) => t === path).map(([fd]) => fd);
}

/** The invariants after any cycle: A untouched, B flipped only onto a signed image, a clean GPT, the disk closed. */
async function checkDisk(lab: UpdateLab, slotA: Buffer, images: Map<string, Buffer>, what: string): Promise<void> {
  const leaked = await openDescriptors(lab.disk);
  ensure(leaked.length === 0, `${what}: descriptors ${leaked.join(', ')} to the disk are still open after the cycle`);
  ensure((await slotBytes(lab, 3, slotA.length)).equals(slotA), `${what}: the running slot A changed`);
  const slots = await lab.slots();
  const [a, b] = [slots.find((s) => s.partition === 3), slots.find((s) => s.partition === 4)];
  ensure(a && b, `${what}: slots missing`);
  const flipped = b.priority > a.priority || b.tries > 0 || b.successful;
  if (flipped) {
    const version = await pendingVersion(lab);
    const image = version === undefined ? undefined : images.get(version);
    ensure(image, `${what}: slot B was flipped (priority ${b.priority}, tries ${b.tries}) with no known pending version (${String(version)})`);
    ensure((await slotBytes(lab, 4, image.length)).equals(image), `${what}: slot B was flipped to ${version} but does not hold its signed image`);
  }
  const verify = sgdiskVerify(lab.disk);
  ensure(verify.ok, () => `${what}: sgdisk -v: ${verify.output}`);
}

export function createDaemonFuzz(): FuzzSuite {
  let root = '';
  let run = 0;
  const outcomes = new Map<string, number>();

  const property = fuzzProperty(
    'payload via daemon cycle',
    'a mutated payload served by the lab never flips slot B onto unverified bytes, and a later valid update lands exactly',
    6,
    fc.asyncProperty(payloadMutationArb, fc.boolean(), fc.boolean(), async (mutation: PayloadMutation, offerMatchesMutation, thenValid) => {
      const dir = join(root, `run-${run++}`);
      const lab = new UpdateLab({ dir, initialVersion: '1.0.0', usrSizeBytes: 2 * IMAGE_BYTES, imageSizeBytes: IMAGE_BYTES, blockSizeBytes: 64 * 1024 });
      try {
        await lab.setUp();
        const slotA = await slotBytes(lab, 3, IMAGE_BYTES);
        const v2 = await lab.addPayload('2.0.0');
        const original = await readFile(v2.path);
        const images = new Map([['2.0.0', await readFile(v2.imagePath)]]);
        await writeFile(join(dir, 'other.bin'), randomBytes(IMAGE_BYTES));
        await createPayload({
          imagePath: join(dir, 'other.bin'),
          out: join(dir, 'other.payload'),
          version: '2.0.0',
          privateKeyPem: await readFile(TEST_PRIVATE_KEY, 'utf8'),
          blockSizeBytes: 64 * 1024,
        });
        const manifestBytes = splitTar(original)[0]?.body ?? Buffer.alloc(0);
        const mutated = mutation.apply({
          payload: original,
          other: await readFile(join(dir, 'other.payload')),
          untrustedSignatures: serializeSignatures([signWithPrivateKey(manifestBytes, ED2_PRIVATE)]),
        });
        await writeFile(v2.path, mutated);
        // An offer for the original file is only used when the sizes agree: the dev server would otherwise
        // promise more bytes than the file has and the client's stall guard (a minute) would end the run.
        const tryMutated = offerMatchesMutation || mutated.length !== original.length;
        const served = tryMutated
          ? await lab.serve().then(
              () => 'mutated',
              () => 'original',
            )
          : 'original';
        if (served === 'original') {
          await writeFile(v2.path, original);
          await lab.serve();
          await writeFile(v2.path, mutated);
        }
        const first = await cycle(lab);
        countOutcome(outcomes, `${mutation.name.replace(/-?\d+/g, 'N')} -> ${first}`);
        await checkDisk(lab, slotA, images, `after "${mutation.name}" (offer for the ${served} file, cycle: ${first})`);
        if (thenValid) {
          await writeFile(v2.path, original);
          const v3 = await lab.addPayload('2.0.1');
          images.set('2.0.1', await readFile(v3.imagePath));
          await lab.serve();
          const second = await cycle(lab);
          ensure(second === 'ok', `the valid update after "${mutation.name}" ended with ${second}`);
          ensure((await pendingVersion(lab)) === '2.0.1', 'the valid update 2.0.1 is not pending');
          await checkDisk(lab, slotA, images, `after the valid update following "${mutation.name}"`);
        }
        const boot = await lab.reboot();
        if (boot.partition === 4) await checkDisk(lab, slotA, images, 'after a reboot into B');
      } finally {
        await lab.close();
        await rm(dir, { recursive: true, force: true });
      }
    }),
  );
  return {
    properties: [property],
    outcomes,
    async setUp() {
      root = await mkdtemp(join(tmpdir(), 'ue-fuzz-daemon-'));
    },
    async tearDown() {
      if (root) await rm(root, { recursive: true, force: true });
    },
  };
}
