// Runs one peer's command under GNU time and reads the machine's CPU counters around it: wall seconds,
// client CPU seconds (the command and every child it waited for), the largest process's peak RSS, and
// the whole machine's busy CPU seconds (the server's share included).

import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';

export interface TimedRun {
  seconds: number;
  clientCpuSeconds: number;
  machineCpuSeconds: number;
  peakRssBytes: number;
}

/** Busy jiffies of all CPUs (everything but idle and iowait) from /proc/stat, in seconds. */
export async function machineBusySeconds(): Promise<number> {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0] ?? '';
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = f;
  return (user + nice + system + irq + softirq + steal) / 100;
}

/** Runs `script` with bash under /usr/bin/time; rejects with its stderr when it fails. */
export async function timed(script: string): Promise<TimedRun> {
  const busyBefore = await machineBusySeconds();
  const started = performance.now();
  const child = spawn('/usr/bin/time', ['-f', 'TIMED %e %U %S %M', 'bash', '-o', 'pipefail', '-c', script], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  const seconds = (performance.now() - started) / 1000;
  const machineCpuSeconds = (await machineBusySeconds()) - busyBefore;
  const m = /TIMED ([\d.]+) ([\d.]+) ([\d.]+) (\d+)/.exec(stderr);
  if (code !== 0 || !m) throw new Error(`peer failed (exit ${code}): ${script}\n${stderr.trim().split('\n').slice(-8).join('\n')}`);
  return { seconds, clientCpuSeconds: Number(m[2]) + Number(m[3]), machineCpuSeconds, peakRssBytes: Number(m[4]) * 1024 };
}
