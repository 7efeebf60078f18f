// Fuzz property of the GPT reader and the slot operations: on a corrupted image (own codec at 512 and
// 4096-byte sectors, or made by sgdisk), any sequence of operations either works or throws an
// UpdateEngineError; whenever one writes, `sgdisk -v` accepts the disk and no partition byte changed.

import fc from 'fast-check';
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UpdateEngineError } from '../../../src/errors.ts';
import {
  bootSimulate,
  createDiskImage,
  disableSlot,
  listUsrSlots,
  markGood,
  prepareForTry,
  prioritize,
  readGptTable,
  readSlots,
  repairGpt,
  restoreBooted,
  openFsDisk,
} from '../../../src/slots/index.ts';
import { createSgdiskImage, sgdiskVerify } from '../../helpers/disk-image.ts';
import { countOutcome, ensure, ensureEngineError, fuzzProperty, type FuzzSuite } from './fuzz-suite.ts';
import { corruptionsArb, ENTRY_FIELDS, gptLayout, HEADER_FIELDS, setEntryField, setHeaderField, type GptLayout } from './gpt-corruption.ts';

const MIB = 1024 * 1024;
const GPT_ERRORS = { prefixes: ['ERR_GPT_', 'ERR_SLOT_'], codes: ['ERR_NO_BOOTABLE_SLOT'] as const };

type Op = { name: string; run(disk: string): Promise<unknown> };

const ENTRY_FIELD = { typeGuid: ENTRY_FIELDS[0] as (typeof ENTRY_FIELDS)[number] };
const HEADER_FIELD = { myLba: HEADER_FIELDS[2] as (typeof HEADER_FIELDS)[number], alternateLba: HEADER_FIELDS[3] as (typeof HEADER_FIELDS)[number] };
const OPS: Record<'restoreBooted' | 'listUsrSlots' | 'repairGpt' | 'bootSimulate', Op> = {
  bootSimulate: { name: 'bootSimulate', run: (d) => bootSimulate(d) },
  restoreBooted: { name: 'restoreBooted', run: (d) => restoreBooted(d, 3, 4) },
  repairGpt: { name: 'repairGpt', run: (d) => repairGpt(d) },
  listUsrSlots: { name: 'listUsrSlots', run: (d) => listUsrSlots(d) },
};

const partitionArb = fc.oneof(fc.constantFrom(3, 4), fc.integer({ min: 0, max: 200 }));
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.constant<Op>({
    name: 'readGptTable',
    run: async (d) => {
      const disk = await openFsDisk(d);
      try {
        return await readGptTable(disk);
      } finally {
        await disk.close();
      }
    },
  }),
  fc.constant(OPS.listUsrSlots),
  fc.constant<Op>({ name: 'readSlots', run: (d) => readSlots(d, { slotAPartition: 3, slotBPartition: 4 }) }),
  fc.constant(OPS.repairGpt),
  fc.constant(OPS.bootSimulate),
  fc.constant(OPS.restoreBooted),
  fc.tuple(fc.constantFrom('prioritize', 'markGood', 'prepareForTry', 'disableSlot'), partitionArb).map(
    ([name, p]): Op => ({
      name,
      run: (d) => ({ prioritize, markGood, prepareForTry, disableSlot })[name as 'prioritize'](d, p),
    }),
  ),
);

/**
 * `sgdisk -v` finds no problem. Three notices are not problems of a write: a damaged protective MBR
 * (the slot code never writes sector 0, which may hold boot code or a hybrid MBR), a partition end off
 * the 2048-sector grid and a gap before the first usable sector (the fuzzer moved them; sgdisk says
 * "No problems found" with them).
 */
function sgdiskAccepts(output: string): boolean {
  const rest = output
    .replace(/Found valid GPT with corrupt MBR; using GPT and will write new\s+protective MBR on save\.\s*/g, '')
    .replace(/Caution: Partition \d+ doesn't end on a \d+-sector boundary\. This may\s+result in problems with some disk encryption tools\.\s*/g, '')
    .replace(
      /Warning: There is a gap between the main partition table \(ending sector \d+\)\s+and the first usable sector \(\d+\)\.[\s\S]*?Using 'j' on the experts' menu can adjust this gap\.\s*/g,
      '',
    );
  return rest.includes('No problems found') && !/Warning|Problem:|Caution|MBR/i.test(rest);
}

interface BaseImage {
  name: string;
  bytes: Buffer;
  layout: GptLayout;
  /** A copy that each run rewrites (GPT areas only) and operates on. */
  workPath: string;
}

/** Where the partitions start: everything before is MBR, primary header and entries. */
const dataStart = (l: GptLayout) => l.primaryEntries + l.entriesBytes;

async function putAreas(path: string, image: Buffer, l: GptLayout): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    await fh.write(image, 0, dataStart(l), 0);
    await fh.write(image, l.backupEntries, image.length - l.backupEntries, l.backupEntries);
  } finally {
    await fh.close();
  }
}

async function readAreas(path: string, l: GptLayout): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const out = Buffer.alloc(dataStart(l) + l.totalBytes - l.backupEntries);
    await fh.read(out, 0, dataStart(l), 0);
    await fh.read(out, dataStart(l), l.totalBytes - l.backupEntries, l.backupEntries);
    return out;
  } finally {
    await fh.close();
  }
}

async function makeBaseImages(dir: string): Promise<BaseImage[]> {
  const small = { usrSizeBytes: MIB, efiSizeBytes: MIB, biosBootSizeBytes: MIB, rootSizeBytes: MIB };
  const bases: BaseImage[] = [];
  for (const sectorSizeBytes of [512, 4096] as const) {
    const path = join(dir, `own-${sectorSizeBytes}.img`);
    await createDiskImage(path, { ...small, sectorSizeBytes });
    await prepareForTry(path, 4);
    bases.push({
      name: `own codec, ${sectorSizeBytes}-byte sectors, B pending`,
      bytes: await readFile(path),
      layout: gptLayout(await readFile(path), sectorSizeBytes),
      workPath: join(dir, `work-${sectorSizeBytes}.img`),
    });
  }
  const sg = join(dir, 'sgdisk.img');
  createSgdiskImage(sg, 8, [
    { partition: 1, sizeMiB: 1, type: 'EF00', label: 'EFI-SYSTEM' },
    { partition: 3, sizeMiB: 2, type: '8500', label: 'USR-A' },
    { partition: 4, sizeMiB: 2, type: '8500', label: 'USR-B' },
    { partition: 9, sizeMiB: 1, type: '8300', label: 'ROOT' },
  ]);
  await markGood(sg, 3);
  bases.push({ name: 'sgdisk, A good', bytes: await readFile(sg), layout: gptLayout(await readFile(sg), 512), workPath: join(dir, 'work-sgdisk.img') });
  for (const b of bases) {
    b.bytes.fill(0xc3, dataStart(b.layout), b.layout.backupEntries);
    await writeFile(b.workPath, b.bytes);
  }
  return bases;
}

export function createGptFuzz(): FuzzSuite {
  let dir = '';
  let bases: BaseImage[] = [];
  const outcomes = new Map<string, number>();

  const property = fuzzProperty(
    'GPT reader',
    'on a corrupted disk every slot operation works or throws ERR_GPT_*/ERR_SLOT_*; after any write sgdisk -v is clean and no partition byte changed',
    100,
    fc.asyncProperty(fc.nat(2), corruptionsArb, fc.array(opArb, { minLength: 1, maxLength: 3 }), async (baseIndex, corruptions, ops) => {
      const base = bases[baseIndex % bases.length] as BaseImage;
      const l = base.layout;
      const corrupted = Buffer.from(base.bytes);
      for (const c of corruptions) c.apply(corrupted, l);
      const what = () => `${base.name}; ${corruptions.map((c) => c.name).join('; ')}; ops ${ops.map((o) => o.name).join(', ')}`;
      // Only the GPT areas (before and after the partitions) differ between runs: rewrite just those.
      await putAreas(base.workPath, corrupted, l);
      let wrote = false;
      for (const op of ops) {
        const before = await readAreas(base.workPath, l);
        try {
          await op.run(base.workPath);
          countOutcome(outcomes, `${op.name} -> ok`);
        } catch (e) {
          const err = ensureEngineError(e, GPT_ERRORS, `${op.name} (${what()})`);
          countOutcome(outcomes, `${op.name} -> ${err.code}`);
        }
        if (!(await readAreas(base.workPath, l)).equals(before)) wrote = true;
      }
      const final = await readFile(base.workPath);
      if (!final.subarray(dataStart(l), l.backupEntries).equals(base.bytes.subarray(dataStart(l), l.backupEntries))) {
        await writeFile(base.workPath, base.bytes);
        throw new Error(`an operation wrote into the partitions (${what()})`);
      }
      if (!wrote) return;
      countOutcome(outcomes, corruptions.some((c) => c.checksummed) ? 'wrote after checksummed damage' : 'wrote after raw damage');
      ensure(final.subarray(0, 512).equals(corrupted.subarray(0, 512)), () => `the protective MBR was rewritten (${what()})`);
      const verify = sgdiskVerify(base.workPath);
      ensure(verify.ok || sgdiskAccepts(verify.output), () => `sgdisk -v rejects the disk after a write (${what()}):\n${verify.output}`);
      const slots = await listUsrSlots(base.workPath).catch((e: unknown) => (e instanceof UpdateEngineError ? e : Promise.reject(e)));
      ensure(
        !(slots instanceof UpdateEngineError) && slots.problems.length === 0,
        () => `the GPT was written but reads back with problems: ${slots instanceof UpdateEngineError ? slots.message : slots.problems.join('; ')} (${what()})`,
      );
    }),
    // Found by this property: a copy with valid CRCs but an entry outside the usable LBAs was trusted
    // and written over the good copy; a primary whose alternate LBA is 3 made the reader throw a RangeError.
    [
      [0, [setEntryField(ENTRY_FIELD.typeGuid, 5, 7n, 'primary')], [OPS.restoreBooted]],
      [0, [setHeaderField(HEADER_FIELD.alternateLba, 3n, true)], [OPS.listUsrSlots]],
      // Found by the long run: a valid backup whose alternate LBA is not 1 was kept as it was when it
      // rebuilt a damaged primary, and sgdisk then saw two headers that do not point at each other.
      [2, [setHeaderField(HEADER_FIELD.alternateLba, 128n, false), setHeaderField(HEADER_FIELD.myLba, 5n, true)], [OPS.repairGpt]],
      // Found by the long run: a primary whose alternate LBA (33) lies in its own entry array was trusted,
      // and the "backup" derived from it was written over the primary's entries.
      [0, [setHeaderField(HEADER_FIELD.alternateLba, 33n, true)], [OPS.bootSimulate]],
    ],
  );

  return {
    properties: [property],
    outcomes,
    async setUp() {
      dir = await mkdtemp(join(tmpdir(), 'ue-fuzz-gpt-'));
      bases = await makeBaseImages(dir);
    },
    async tearDown() {
      if (dir) await rm(dir, { recursive: true, force: true });
    },
  };
}
