// Fleet benchmark of the reboot lock: N agents (default 30), each with its own etcd connection, on a
// 3-member etcd cluster with max=2; each does lock -> simulated reboot -> unlock. Prints, and writes to
// bench/out/fleet.json (or fleet-no-queue.json): the most simultaneous holders ever seen in etcd (must be
// <= max), the time to drain the fleet, the wake-up latency after a release (median, p99), CAS conflicts.
//   node bin/run-ts.js bench/fleet/run.ts [--agents 30] [--max 2] [--reboot-ms 100] [--members 3] [--rounds 1]
//                                         [--queue-grace-ms 5000]   (0: no queue, every waiter races: the stampede)

import { mkdirSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Etcd3 } from 'etcd3';
import { EtcdLockStore } from '../../src/lock/etcd-lock-store.ts';
import { LockManager } from '../../src/lock/lock-manager.ts';
import { SemaphoreClient } from '../../src/lock/semaphore-client.ts';
import { parseSemaphore } from '../../src/lock/semaphore.ts';
import { systemClock } from '../../src/platform/clock.ts';
import { silentLogger } from '../../src/platform/logger.ts';
import { startEtcd } from '../../test/helpers/etcd.ts';

const { values } = parseArgs({
  options: {
    agents: { type: 'string', default: '30' },
    max: { type: 'string', default: '2' },
    'reboot-ms': { type: 'string', default: '100' },
    members: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '1' },
    'queue-grace-ms': { type: 'string', default: '5000' },
  },
});
const agents = Number(values.agents);
const max = Number(values.max);
const rebootMs = Number(values['reboot-ms']);
const members = Number(values.members) === 1 ? 1 : 3;
const rounds = Number(values.rounds);
const queueGraceMs = Number(values['queue-grace-ms']);

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

interface RoundResult {
  maxHoldersSeen: number;
  drainMs: number;
  wakeLatencyMs: number[];
  conflicts: number;
  lockOps: number;
}

async function oneRound(endpoints: string[], group: string): Promise<RoundResult> {
  // The observer reads every revision of the semaphore from its own watch.
  const observer = new Etcd3({ hosts: endpoints });
  const admin = new SemaphoreClient({ store: new EtcdLockStore({ endpoints }), group, clock: systemClock });
  await admin.setMax(max);
  let maxHoldersSeen = 0;
  const watcher = await observer.watch().key(admin.keys.semaphore).create();
  watcher.on('put', (kv) => {
    maxHoldersSeen = Math.max(maxHoldersSeen, parseSemaphore(kv.value.toString()).holders.length);
  });

  const nodes = Array.from({ length: agents }, (_, i) => {
    const store = new EtcdLockStore({ endpoints, sessionTtlSeconds: 10 });
    const client = new SemaphoreClient({ store, group, clock: systemClock });
    const manager = new LockManager({ client, id: `agent-${String(i).padStart(3, '0')}`, clock: systemClock, logger: silentLogger(), queueGraceMs });
    return { store, client, manager };
  });
  const releases: number[] = []; // times of releases not yet followed by an acquisition
  const wakeLatencyMs: number[] = [];
  let acquisitions = 0;
  const start = performance.now();
  await Promise.all(
    nodes.map(async ({ manager }) => {
      await manager.acquire();
      const now = performance.now();
      acquisitions += 1;
      // The first `max` acquisitions found free slots; every later one was woken by a release.
      if (acquisitions > max) {
        const released = releases.shift();
        if (released !== undefined) wakeLatencyMs.push(now - released);
      }
      await new Promise((r) => setTimeout(r, rebootMs));
      await manager.release();
      releases.push(performance.now());
    }),
  );
  const drainMs = performance.now() - start;
  await watcher.cancel();
  observer.close();
  const conflicts = nodes.reduce((n, x) => n + x.client.conflicts, 0);
  await Promise.all(nodes.map((n) => n.store.close()));
  await admin.store.close();
  return { maxHoldersSeen, drainMs, wakeLatencyMs, conflicts, lockOps: agents * 2 };
}

const cluster = await startEtcd({ members });
try {
  const results: RoundResult[] = [];
  for (let r = 0; r < rounds; r++) results.push(await oneRound(cluster.endpoints, `bench-${r}`));
  const latencies = results.flatMap((r) => r.wakeLatencyMs).sort((a, b) => a - b);
  const summary = {
    benchmark: 'fleet',
    date: new Date().toISOString(),
    agents,
    max,
    rebootMs,
    etcdMembers: members,
    rounds,
    queueGraceMs,
    maxHoldersSeen: Math.max(...results.map((r) => r.maxHoldersSeen)),
    drainMs: results.map((r) => Math.round(r.drainMs)),
    idealDrainMs: Math.ceil(agents / max) * rebootMs,
    wakeLatencyMs: {
      median: +percentile(latencies, 50).toFixed(1),
      p99: +percentile(latencies, 99).toFixed(1),
      max: +(latencies.at(-1) ?? NaN).toFixed(1),
      samples: latencies.length,
    },
    casConflicts: results.map((r) => r.conflicts),
  };
  console.log(
    `fleet: ${agents} agents, max=${max}, ${members}-member etcd, simulated reboot ${rebootMs} ms, ${rounds} round(s), ${queueGraceMs === 0 ? 'no queue (every waiter races)' : `queue (grace ${queueGraceMs} ms)`}`,
  );
  console.log(`  most simultaneous holders seen in etcd: ${summary.maxHoldersSeen} (limit ${max}) ${summary.maxHoldersSeen <= max ? 'OK' : 'VIOLATED'}`);
  console.log(`  drain time: ${summary.drainMs.join(', ')} ms (ideal ${summary.idealDrainMs} ms: agents/max x reboot)`);
  console.log(
    `  wake-up latency after a release: median ${summary.wakeLatencyMs.median} ms, p99 ${summary.wakeLatencyMs.p99} ms, max ${summary.wakeLatencyMs.max} ms (${latencies.length} samples)`,
  );
  console.log(`  CAS conflicts: ${summary.casConflicts.join(', ')} (of ${agents} lock + ${agents} unlock commits per round)`);
  mkdirSync(new URL('../out/', import.meta.url), { recursive: true });
  writeFileSync(new URL(`../out/fleet${queueGraceMs === 0 ? '-no-queue' : ''}.json`, import.meta.url), `${JSON.stringify(summary, null, 2)}\n`);
  if (summary.maxHoldersSeen > max) process.exitCode = 1;
} finally {
  await cluster.stop();
}
