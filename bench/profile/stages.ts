// The per-stage table of an apply from the V8 CPU profiles (--cpu-prof) of the daemon's threads: each
// sample of the main thread is put in the stage of the nearest frame (from the leaf up) that belongs to
// one (HTTP receive, copy into the pool, hand-off to the hash workers, write, sync, read-back, ...);
// samples before the first apply frame are start-up (imports, settings, the Omaha check), those after
// the last one the end (flip, exit). Worker profiles are the SHA-256 workers. Idle time is left out.

import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Rules in order: the first whose pattern matches a frame's url (or, for `fn:`, its function name) names the stage. */
const RULES: Array<[string, RegExp]> = [
  ['hand-off to hash workers', /hash-pool\.js|block-verifier\.js|fn:postMessage/],
  ['copy into pool buffers', /byte-reader\.js/],
  ['read-back (compare, pread calls)', /stage-read-back\.js/],
  ['sync (fdatasync calls)', /stage-sync\.js/],
  ['write (pwrite calls)', /stage-write\.js|positional-file-target\.js|write-target\.js/],
  ['tar / header parse', /tar-header\.js|payload-header\.js|manifest\.js|verify-signatures\.js/],
  [
    'HTTP receive',
    /range-attempt\.js|http-payload-source\.js|got-transport\.js|node_modules\/got|_http_|node:net|stream_base|node:internal\/streams|fn:execute$/,
  ],
];

function stageOf(frames: ProfileNode[]): string {
  for (const f of frames) {
    const { url, functionName } = f.callFrame;
    for (const [stage, pattern] of RULES) if (pattern.test(url) || pattern.test(`fn:${functionName}`)) return stage;
  }
  return 'main-thread other (pipeline, promises, timers)';
}

/** CPU seconds by stage over all the profiles given (one per thread). */
export async function stageSeconds(files: string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const add = (stage: string, us: number) => out.set(stage, (out.get(stage) ?? 0) + us / 1e6);
  for (const file of files) {
    const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const parent = new Map<number, number>();
    for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    const stackOf = (id: number): ProfileNode[] => {
      const frames: ProfileNode[] = [];
      for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) frames.push(byId.get(at) as ProfileNode);
      return frames;
    };
    // A worker's profile file has a thread id other than 0 in its name (CPU.date.pid.tid.seq.cpuprofile).
    const isWorker = basename(file).split('.').at(-3) !== '0';
    const stacks = profile.samples.map((id) => stackOf(id));
    const inApply = stacks.map((s) => s.some((f) => /apply-run\.js/.test(f.callFrame.url)));
    const first = inApply.indexOf(true);
    const last = inApply.lastIndexOf(true);
    /** The stage a main-thread sample belongs to; undefined for idle time. */
    const classify = (frames: ProfileNode[], i: number): string | undefined => {
      const leaf = (frames[0] as ProfileNode).callFrame.functionName;
      if (leaf === '(idle)') return undefined;
      if (isWorker) return leaf === '(garbage collector)' ? 'GC (workers)' : 'SHA-256 (workers)';
      if (first < 0 || i < first) return 'start-up (imports, settings, Omaha check)';
      if (i > last) return 'after the apply (flip, exit)';
      if (leaf === '(garbage collector)') return 'GC (main thread)';
      if (leaf === '(program)') return 'V8/native, unattributed (main thread)';
      return stageOf(frames);
    };
    stacks.forEach((frames, i) => {
      const stage = classify(frames, i);
      if (stage) add(stage, profile.timeDeltas[i + 1] ?? 0);
    });
  }
  return out;
}

export function formatStageTable(stages: Map<string, number>, gib: number): string {
  const rows = [...stages].sort((a, b) => b[1] - a[1]);
  const width = Math.max(...rows.map(([s]) => s.length));
  const total = rows.reduce((n, [, s]) => n + s, 0);
  return [
    ...rows.map(([s, sec]) => `  ${s.padEnd(width)}  ${(sec / gib).toFixed(3)} CPU-s/GiB`),
    `  ${'total (profiled)'.padEnd(width)}  ${(total / gib).toFixed(3)}`,
  ].join('\n');
}
