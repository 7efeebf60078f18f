// The apply's memory plan: slots from maxInFlightBytes (at least four), a sync interval that leaves
// room in the pool when blocks wait for their read-back, and checkpoints every 64 MiB of blocks.

import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_IN_FLIGHT_BYTES, DEFAULT_SYNC_EVERY_BYTES, planMemory } from '../../src/payload/apply-memory.ts';

const MIB = 1024 * 1024;

describe('planMemory', () => {
  it.each([
    {
      what: 'defaults, 1 MiB blocks',
      blockSize: MIB,
      slotBytes: MIB,
      options: {},
      slotCount: DEFAULT_MAX_IN_FLIGHT_BYTES / MIB,
      syncEveryBlocks: Math.min(DEFAULT_SYNC_EVERY_BYTES / MIB, Math.floor(DEFAULT_MAX_IN_FLIGHT_BYTES / MIB / 3)),
      checkpointEveryBlocks: 64,
    },
    {
      what: 'a small pool caps the sync interval at a third of it',
      blockSize: MIB,
      slotBytes: MIB,
      options: { maxInFlightBytes: 9 * MIB, syncEveryBytes: 64 * MIB },
      slotCount: 9,
      syncEveryBlocks: 3,
      checkpointEveryBlocks: 64,
    },
    {
      what: 'without read-back the interval is as asked',
      blockSize: MIB,
      slotBytes: MIB,
      options: { maxInFlightBytes: 9 * MIB, syncEveryBytes: 64 * MIB, readBack: false },
      slotCount: 9,
      syncEveryBlocks: 64,
      checkpointEveryBlocks: 64,
    },
    {
      what: 'huge blocks still get four slots and a sync per block',
      blockSize: 64 * MIB,
      slotBytes: 64 * MIB,
      options: {},
      slotCount: 4,
      syncEveryBlocks: 1,
      checkpointEveryBlocks: 1,
    },
    {
      what: 'compressed blocks need larger slots',
      blockSize: 4096,
      slotBytes: 4096 + 1024,
      options: { maxInFlightBytes: 16 * 5120 },
      slotCount: 16,
      syncEveryBlocks: 5,
      checkpointEveryBlocks: 16384,
    },
  ])('$what', ({ blockSize, slotBytes, options, slotCount, syncEveryBlocks, checkpointEveryBlocks }) => {
    expect(planMemory({ blockSize }, slotBytes, options)).toEqual({ slotCount, slotBytes, syncEveryBlocks, checkpointEveryBlocks });
  });
});
