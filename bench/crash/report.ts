// The crash bench's figures: rows per fault kind (runs, faults injected, survivors, runs that lost
// data or needed manual help), where the time-based kills landed, and the markdown tables.

import type { KillRecord } from '../../test/helpers/crash-run.ts';
import type { KillKind } from '../../test/helpers/kill-points.ts';
import { IO_FAULT_KINDS, IO_FAULT_LABELS, type IoFaultRecord } from './io-fault-runs.ts';

export interface FaultRow {
  fault: string;
  /** Runs planned with this fault. */
  runs: number;
  /** Runs where the fault really happened (a time kill can come after the cycle ended). */
  injected: number;
  /** Injected runs that booted a valid slot, got a clean table and converged by themselves. */
  survivors: number;
  dataLost: number;
  manualHelp: number;
}

const KILL_LABELS: Record<KillKind, string> = {
  time: 'SIGKILL at a time offset',
  bytes: 'SIGKILL after N image bytes written',
  status: 'SIGKILL at a status change',
  'gpt-write': 'SIGKILL between two GPT table writes',
};

export function killSurvived(r: KillRecord): boolean {
  return r.end === 'killed' && !r.dataLost && !r.manualHelp && r.convergence.tableCleanAfterRestart;
}

export function ioSurvived(r: IoFaultRecord): boolean {
  return r.injected && r.clearError && !r.dataLost && !r.manualHelp && r.resumedExactly;
}

export function killRows(records: readonly KillRecord[]): FaultRow[] {
  return (Object.keys(KILL_LABELS) as KillKind[]).map((kind) => {
    const of = records.filter((r) => r.point.kind === kind);
    const injected = of.filter((r) => r.end === 'killed');
    return {
      fault: KILL_LABELS[kind],
      runs: of.length,
      injected: injected.length,
      survivors: injected.filter(killSurvived).length,
      dataLost: of.filter((r) => r.dataLost).length,
      manualHelp: of.filter((r) => r.manualHelp).length,
    };
  });
}

export function ioRows(records: readonly IoFaultRecord[]): FaultRow[] {
  return IO_FAULT_KINDS.filter((kind) => records.some((r) => r.kind === kind)).map((kind) => {
    const of = records.filter((r) => r.kind === kind);
    return {
      fault: IO_FAULT_LABELS[kind],
      runs: of.length,
      injected: of.filter((r) => r.injected).length,
      survivors: of.filter(ioSurvived).length,
      dataLost: of.filter((r) => r.dataLost).length,
      manualHelp: of.filter((r) => r.manualHelp).length,
    };
  });
}

export function totalRow(rows: readonly FaultRow[]): FaultRow {
  const sum = (key: keyof Omit<FaultRow, 'fault'>) => rows.reduce((n, r) => n + r[key], 0);
  return {
    fault: '**all**',
    runs: sum('runs'),
    injected: sum('injected'),
    survivors: sum('survivors'),
    dataLost: sum('dataLost'),
    manualHelp: sum('manualHelp'),
  };
}

export function faultTable(rows: readonly FaultRow[]): string {
  const lines = ['| fault injected | runs | injected | survivors | lost data | needed manual help |', '| --- | ---: | ---: | ---: | ---: | ---: |'];
  for (const r of rows) lines.push(`| ${r.fault} | ${r.runs} | ${r.injected} | ${r.survivors} | ${r.dataLost} | ${r.manualHelp} |`);
  return lines.join('\n');
}

/** Per scenario and restart mode: kills, torn tables left at the kill, which slot a copy booted. */
export function scenarioTable(records: readonly KillRecord[]): string {
  const lines = [
    '| scenario | restart | kills | torn table at kill | copy booted A / B | ended rolled back | survivors |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: |',
  ];
  const keys = [...new Set(records.map((r) => `${r.scenario}|${r.rebootFirst ? 'after a reboot' : 'same boot'}`))];
  for (const key of keys) {
    const [scenario, mode] = key.split('|');
    const of = records.filter((r) => r.scenario === scenario && (r.rebootFirst ? 'after a reboot' : 'same boot') === mode && r.end === 'killed');
    const a = of.filter((r) => r.boot.bootedPartition === 3).length;
    const b = of.filter((r) => r.boot.bootedPartition === 4).length;
    const rolledBack = of.filter((r) => r.convergence.end === 'rolled-back').length;
    lines.push(
      `| ${scenario} | ${mode} | ${of.length} | ${of.filter((r) => r.boot.tableTorn).length} | ${a} / ${b} | ${rolledBack} | ${of.filter(killSurvived).length} |`,
    );
  }
  return lines.join('\n');
}

/** Where the time-based kills landed: the last status each child reported before it died. */
export function landingTable(records: readonly KillRecord[]): string {
  const counts = new Map<string, number>();
  for (const r of records) {
    if (r.point.kind !== 'time') continue;
    const where = r.end === 'killed' ? (r.statusAtKill ?? '(before the first status change)') : '(cycle ended first: not injected)';
    counts.set(where, (counts.get(where) ?? 0) + 1);
  }
  const lines = ['| time kill landed in | runs |', '| --- | ---: |'];
  for (const [where, n] of [...counts].sort((x, y) => y[1] - x[1])) lines.push(`| ${where} | ${n} |`);
  return lines.join('\n');
}
