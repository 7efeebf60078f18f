// The messages between the crash lab (parent) and its daemon child over the IPC channel: the run
// spec the parent sends, and the child's ready / started / done reports.

import type { IdentityPaths } from '../../src/platform/identity.ts';
import type { KillPoint } from './kill-points.ts';

/** Where the GPT lives on the disk image: writes outside [tableEndBytes, backupStartBytes) are table writes. */
export interface TableRegions {
  /** First byte after the primary header and entries (the first usable LBA, in bytes). */
  tableEndBytes: number;
  /** First byte of the backup entries (the last usable LBA + 1, in bytes). */
  backupStartBytes: number;
}

/** One daemon cycle to run in the child. */
export interface ChildRunSpec {
  type: 'run';
  /** Raw settings (camelCase field -> text), parsed by the settings schema in the child. */
  settingsInput: Record<string, string>;
  identityPaths: IdentityPaths;
  disk: string;
  regions: TableRegions;
  /** The event at which the child kills itself; time points are the parent's business. */
  kill?: Exclude<KillPoint, { kind: 'time' }>;
}

/** What the child saw of its cycle (for calibration and reports). */
export interface ChildStats {
  durationMs: number;
  statuses: string[];
  gptWrites: number;
  bytesWritten: number;
}

export type ChildMessage =
  | { type: 'ready' }
  | { type: 'started' }
  /** Sent at each status change (it may not arrive when the kill follows at once). */
  | { type: 'status'; status: string }
  | { type: 'done'; exitCode: number; errorCode?: string; errorMessage?: string; stats: ChildStats };
