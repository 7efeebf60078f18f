// What the apply benchmark reads about a running process from /proc and /sys: resident set (peak
// and now), bytes it dirtied, CPU time per thread, and bytes written as its blkio cgroup and a loop
// device count them. Reads that fail (the process exited) give undefined.

import { readdir, readFile } from 'node:fs/promises';

/** USER_HZ: the unit of the CPU times in /proc/PID/stat (100 on Linux). */
const TICKS_PER_SECOND = 100;

/** A number from a /proc/PID file, by a regular expression with one group. */
export async function procField(pid: number, file: string, pattern: RegExp): Promise<number | undefined> {
  const text = await readFile(`/proc/${pid}/${file}`, 'utf8').catch(() => undefined);
  const m = text === undefined ? null : pattern.exec(text);
  return m ? Number(m[1]) : undefined;
}

function cpuOfStat(text: string): number {
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** utime + stime of a process in seconds (all its threads, those that exited included). */
export async function cpuSeconds(pid: number): Promise<number | undefined> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  return text === undefined ? undefined : cpuOfStat(text);
}

/** CPU seconds of each thread now, by thread id. */
export async function threadCpuSeconds(pid: number): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for (const tid of await readdir(`/proc/${pid}/task`).catch(() => [] as string[])) {
    const text = await readFile(`/proc/${pid}/task/${tid}/stat`, 'utf8').catch(() => undefined);
    if (text !== undefined) out.set(Number(tid), cpuOfStat(text));
  }
  return out;
}

/**
 * Follows the threads of a process over time, so that threads that exit (the apply's hash workers)
 * still count: each thread's last seen CPU time, and when it was first seen.
 */
export class ThreadCpuTracker {
  private readonly threads = new Map<number, { firstSeenMs: number; cpu: number; atStart?: number; atEnd?: number }>();

  async sample(pid: number, nowMs: number): Promise<void> {
    for (const [tid, cpu] of await threadCpuSeconds(pid)) {
      const t = this.threads.get(tid);
      if (t) t.cpu = cpu;
      else this.threads.set(tid, { firstSeenMs: nowMs, cpu });
    }
  }

  /** Marks the start of the span to account (the apply): each thread's CPU time so far. */
  markStart(): void {
    for (const t of this.threads.values()) t.atStart = t.cpu;
  }

  /** Marks the end of the span: each thread's CPU time so far (threads that exited keep their last sample). */
  markEnd(): void {
    for (const t of this.threads.values()) t.atEnd = t.cpu;
  }

  /**
   * CPU seconds between markStart() and markEnd(): the main thread (tid = pid), threads first seen after `startMs`
   * (the apply's hash workers), and the rest (libuv's file-system pool, V8's helper threads).
   */
  split(pid: number, startMs: number): { main: number; newThreads: number; otherThreads: number } {
    const out = { main: 0, newThreads: 0, otherThreads: 0 };
    for (const [tid, t] of this.threads) {
      const used = (t.atEnd ?? t.cpu) - (t.atStart ?? (t.firstSeenMs > startMs ? 0 : t.cpu));
      if (tid === pid) out.main += used;
      else if (t.firstSeenMs > startMs) out.newThreads += used;
      else out.otherThreads += used;
    }
    return out;
  }
}

/** Bytes written as counted by the blkio cgroup the process is in, when that is the engine's own. */
export async function cgroupWrittenBytes(pid: number): Promise<number | undefined> {
  const text = await readFile(`/proc/${pid}/cgroup`, 'utf8').catch(() => undefined);
  const path = /^\d+:[^:]*\bblkio\b[^:]*:(.*)$/m.exec(text ?? '')?.[1];
  if (!path || !/update-engine/.test(path)) return undefined;
  const stats = await readFile(`/sys/fs/cgroup/blkio${path}/blkio.throttle.io_service_bytes`, 'utf8').catch(() => undefined);
  if (stats === undefined) return undefined;
  let total = 0;
  for (const m of stats.matchAll(/^\d+:\d+ Write (\d+)$/gm)) total += Number(m[1]);
  return total;
}

/** Bytes a block device completed writing, from /sys/block/<name>/stat (sectors, field 7). */
export async function deviceWrittenBytes(device: string): Promise<number | undefined> {
  const name = device.replace(/^\/dev\//, '');
  const text = await readFile(`/sys/block/${name}/stat`, 'utf8').catch(() => undefined);
  const sectors = text?.trim().split(/\s+/)[6];
  return sectors === undefined ? undefined : Number(sectors) * 512;
}
