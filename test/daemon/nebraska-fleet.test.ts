// Five real daemons (each with its own disk image and boot simulator) against a server that behaves
// like Nebraska (test/helpers/nebraska-model.ts) with a limit of 2 concurrent updates: every machine
// ends updated, marked good and "complete" on the server; none is left in progress.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { runNebraskaFleet } from '../helpers/nebraska-fleet.ts';
import { STATUS } from '../helpers/nebraska-model.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ue-fleet-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

it('5 machines, max 2 concurrent: all end updated and complete, none stuck, each with the same event sequence', async () => {
  const fleet = await runNebraskaFleet({
    dir,
    machines: 5,
    policy: { updatesEnabled: true, safeMode: false, maxUpdatesPerPeriod: 2, periodMs: 0, updateTimeoutMs: 3_600_000 },
  });
  const { model } = fleet;
  expect(fleet.exitCodes.every((c) => c === 0)).toBe(true);
  expect(model.maxInProgressSeen).toBe(2);
  expect(model.refusals.map((r) => r.reason)).toContain('error-maxConcurrentUpdatesLimitReached');
  for (const [i, machineId] of fleet.machineIds.entries()) {
    const inst = model.instance(machineId);
    expect(inst).toMatchObject({ status: STATUS.complete, version: '2.0.0', updateInProgress: false });
    const lab = fleet.labs[i]!;
    expect(lab.slotVersions.get(lab.booted)).toBe('2.0.0');
    expect((await lab.slots()).find((s) => s.partition === lab.booted)).toMatchObject({ successful: true, tries: 0 });
    // As Nebraska records it: only accepted events, and the statuses they lead to.
    const { events, statuses } = model.timeline(machineId);
    expect(events).toEqual(['13/1', '14/1', '800/1', '3/2']);
    expect(statuses.filter((s) => s !== 'onHold')).toEqual(['updateGranted', 'downloading', 'downloaded', 'installed', 'complete']);
    // The one 3/2 names the version that ran before.
    expect(model.events.filter((e) => e.machineId === machineId && e.event === '3/2')).toEqual([expect.objectContaining({ previousVersion: '1.0.0' })]);
  }
  expect([...model.instances.values()].filter((i) => i.updateInProgress)).toEqual([]);
}, 120_000);
