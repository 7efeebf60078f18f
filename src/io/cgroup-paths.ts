// Where the cgroup hierarchies are and where a process sits in them: pure parsers for
// /proc/self/mounts and /proc/<pid>/cgroup, and a reader that applies them to this machine.

import { readFile } from 'node:fs/promises';

export interface CgroupMounts {
  /** The cgroup v2 (unified) mount point, e.g. /sys/fs/cgroup or /sys/fs/cgroup/unified. */
  v2?: string;
  /** The cgroup v1 hierarchy that carries the blkio controller, e.g. /sys/fs/cgroup/blkio. */
  v1Blkio?: string;
}

export interface ProcCgroupEntry {
  hierarchyId: number;
  /** Controllers of a v1 hierarchy (`blkio`, `name=systemd`, ...); empty for v2. */
  controllers: string[];
  /** The process's cgroup, relative to the hierarchy's mount, e.g. `/` or `/system.slice/x.service`. */
  path: string;
}

/** Unescapes the octal escapes of /proc/mounts (`\040` for a space). */
function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** Finds the cgroup2 mount and the v1 mount with blkio in /proc/self/mounts text. */
export function parseCgroupMounts(mountsText: string): CgroupMounts {
  const out: CgroupMounts = {};
  for (const line of mountsText.split('\n')) {
    const [, mountPoint, fsType, options] = line.split(' ');
    if (!mountPoint || !fsType) continue;
    const path = unescapeMountField(mountPoint);
    if (fsType === 'cgroup2') out.v2 ??= path;
    else if (fsType === 'cgroup' && (options ?? '').split(',').includes('blkio')) out.v1Blkio ??= path;
  }
  return out;
}

/** Parses /proc/<pid>/cgroup (`ID:CONTROLLERS:PATH` per line). */
export function parseProcCgroup(text: string): ProcCgroupEntry[] {
  const out: ProcCgroupEntry[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
    if (!m) continue;
    out.push({ hierarchyId: Number(m[1]), controllers: m[2] ? (m[2] as string).split(',') : [], path: m[3] as string });
  }
  return out;
}

/** The process's cgroup in the v2 hierarchy (the `0::PATH` line). */
export function v2PathOf(entries: readonly ProcCgroupEntry[]): string | undefined {
  return entries.find((e) => e.hierarchyId === 0 && e.controllers.length === 0)?.path;
}

/** The process's cgroup in the v1 hierarchy carrying `controller`. */
export function v1PathOf(entries: readonly ProcCgroupEntry[], controller: string): string | undefined {
  return entries.find((e) => e.controllers.includes(controller))?.path;
}

/** The directory of a cgroup: its path under the hierarchy's mount (`/` is the mount itself). */
export function cgroupDirOf(mount: string, cgroupPath: string): string {
  const rel = cgroupPath.replace(/^\/+|\/+$/g, '');
  return rel === '' ? mount.replace(/\/+$/, '') || '/' : `${mount.replace(/\/+$/, '')}/${rel}`;
}

export interface CgroupEnvironment {
  mounts: CgroupMounts;
  cgroups: ProcCgroupEntry[];
}

/** Reads the mounts and the cgroups of `pid` from /proc (paths injectable for tests). */
export async function readCgroupEnvironment(pid = process.pid, procRoot = '/proc'): Promise<CgroupEnvironment> {
  const [mountsText, cgroupText] = await Promise.all([
    readFile(`${procRoot}/self/mounts`, 'utf8').catch(() => ''),
    readFile(`${procRoot}/${pid}/cgroup`, 'utf8').catch(() => ''),
  ]);
  return { mounts: parseCgroupMounts(mountsText), cgroups: parseProcCgroup(cgroupText) };
}
