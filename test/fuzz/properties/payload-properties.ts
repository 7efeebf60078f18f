// Fuzz property of the payload reader: a mutated valid payload, streamed in random chunks through
// applyPayload onto a FileRegionTarget, either writes exactly the signed image or fails with an
// UpdateEngineError, with nothing but verified blocks on the region and nothing outside it touched.

import fc from 'fast-check';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { FileRegionTarget } from '../../../src/io/file-region-target.ts';
import { applyPayload, type ApplyResult, type OpenPayload } from '../../../src/payload/apply.ts';
import { createPayload } from '../../../src/payload/create.ts';
import type { Keyring } from '../../../src/payload/keyring.ts';
import { COMPRESSIONS, type Compression } from '../../../src/payload/manifest.ts';
import { serializeSignatures } from '../../../src/payload/signature.ts';
import { signWithPrivateKey } from '../../../src/payload/signers.ts';
import { checkRegion, ED2_PRIVATE, ED_PRIVATE, makeDisk, seededBytes, sha256Hex, trustEd } from '../../payload/helpers.ts';
import { UpdateEngineError } from '../../../src/errors.ts';
import { countOutcome, ensure, ensureEngineError, fuzzProperty, withoutStrayErrors, type FuzzSuite } from './fuzz-suite.ts';
import { payloadMutationArb, type MutationSources } from './payload-mutations.ts';

const BLOCK_BYTES = 4096;
const IMAGE_BYTES = 150_000 + 77;
const REGION_OFFSET = 64 * 1024;
const REGION_BYTES = 160 * 1024;
const FILL = 0xa5;
const MACHINE = { appId: '{e96281a6-d1af-4bde-9a0a-97b76e56dc57}', board: 'amd64-usr', runningVersion: '1.0.0', allowDowngrade: false };
/** What a refused payload may fail with. A wrapped foreign error (ERR_DOWNLOAD_TRANSFER from memory) is a bug. */
const REFUSALS = { prefixes: ['ERR_PAYLOAD_'], codes: ['ERR_IMAGE_VERIFICATION'] as const };

/** An OpenPayload over bytes in memory that delivers the requested ranges in chunks of the given sizes. */
export function memoryPayload(bytes: Buffer, chunkSizes: readonly number[]): OpenPayload {
  return async (ranges) => {
    const chunks: Buffer[] = [];
    let k = 0;
    for (const r of ranges) {
      const end = Math.min(bytes.length, r.end ?? bytes.length);
      for (let at = r.start; at < end; ) {
        const n = Math.min(end - at, chunkSizes[k++ % chunkSizes.length] ?? 65536);
        chunks.push(Buffer.from(bytes.subarray(at, at + n)));
        at += n;
      }
    }
    return Readable.from(chunks);
  };
}

export interface PayloadFixture {
  image: Buffer;
  sources: Map<Compression, MutationSources>;
  keyring: Keyring;
}

/** Builds the image, a payload of it per compression, another signed payload, and untrusted signatures. */
export async function makePayloadFixture(dir: string): Promise<PayloadFixture> {
  const image = seededBytes(IMAGE_BYTES, 4242);
  const otherImage = seededBytes(IMAGE_BYTES, 4343);
  await writeFile(join(dir, 'image.bin'), image);
  await writeFile(join(dir, 'other.bin'), otherImage);
  const sources = new Map<Compression, MutationSources>();
  for (const compression of COMPRESSIONS) {
    const common = { version: '2.0.0', privateKeyPem: ED_PRIVATE, blockSizeBytes: BLOCK_BYTES, compression, appId: MACHINE.appId, board: MACHINE.board };
    const made = await createPayload({ ...common, imagePath: join(dir, 'image.bin'), out: join(dir, `${compression}.payload`) });
    await createPayload({ ...common, imagePath: join(dir, 'other.bin'), out: join(dir, `${compression}-other.payload`) });
    sources.set(compression, {
      payload: await readFile(join(dir, `${compression}.payload`)),
      other: await readFile(join(dir, `${compression}-other.payload`)),
      untrustedSignatures: serializeSignatures([signWithPrivateKey(made.manifestBytes, ED2_PRIVATE)]),
    });
  }
  return { image, sources, keyring: trustEd() };
}

export function createPayloadFuzz(): FuzzSuite {
  let dir = '';
  let fixture: PayloadFixture | undefined;
  let run = 0;
  const outcomes = new Map<string, number>();

  const apply = fuzzProperty(
    'payload reader',
    'a mutated payload writes exactly the signed image or fails with ERR_PAYLOAD_*/ERR_IMAGE_VERIFICATION, leaving only verified blocks',
    60,
    fc.asyncProperty(
      fc.constantFrom(...COMPRESSIONS),
      payloadMutationArb,
      fc.array(fc.oneof(fc.integer({ min: 1, max: 600 }), fc.integer({ min: 512, max: 70_000 })), { minLength: 1, maxLength: 8 }),
      fc.boolean(),
      fc.constantFrom(16 * 1024, 64 * 1024, 1024 * 1024),
      async (compression, mutation, chunkSizes, readBack, maxInFlightBytes) => {
        const f = fixture as PayloadFixture;
        const mutated = mutation.apply(f.sources.get(compression) as MutationSources);
        const diskPath = join(dir, `disk-${run++}.img`);
        await makeDisk(diskPath, REGION_OFFSET + REGION_BYTES + 64 * 1024, FILL);
        try {
          let result: ApplyResult | undefined;
          let failure: unknown;
          await withoutStrayErrors(async () => {
            try {
              result = await applyPayload(memoryPayload(mutated, chunkSizes), {
                target: new FileRegionTarget(diskPath, REGION_OFFSET, REGION_BYTES),
                keyring: f.keyring,
                expect: MACHINE,
                readBack,
                syncEveryBytes: 32 * 1024,
                maxInFlightBytes,
              });
            } catch (e) {
              failure = e;
            }
          });
          const blocks = await checkRegion(diskPath, REGION_OFFSET, REGION_BYTES, f.image, BLOCK_BYTES, FILL);
          countOutcome(
            outcomes,
            `${mutation.name.replace(/-?\d+/g, 'N')} -> ${result ? 'applied' : failure instanceof UpdateEngineError ? failure.code : 'not an UpdateEngineError'}`,
          );
          if (result) {
            ensure(result.imageSha256Hex === sha256Hex(f.image), `${mutation.name}: applied an image with SHA-256 ${result.imageSha256Hex}`);
            ensure(blocks === Math.ceil(IMAGE_BYTES / BLOCK_BYTES), `${mutation.name}: success with ${blocks} image blocks on the region`);
          } else {
            const err = ensureEngineError(failure, REFUSALS, `applyPayload after "${mutation.name}"`);
            ensure(!(err.cause instanceof TypeError || err.cause instanceof RangeError), () => `${mutation.name}: ${err.code} wraps a ${String(err.cause)}`);
          }
        } finally {
          await rm(diskPath, { force: true });
        }
      },
    ),
  );

  return {
    properties: [apply],
    outcomes,
    async setUp() {
      dir = await mkdtemp(join(tmpdir(), 'ue-fuzz-payload-'));
      fixture = await makePayloadFixture(dir);
    },
    async tearDown() {
      if (dir) await rm(dir, { recursive: true, force: true });
    },
  };
}
