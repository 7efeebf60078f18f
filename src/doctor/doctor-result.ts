// One line of `update-engine doctor`: a check's name, OK / WARN / FAIL, what was found, and the fix.

export type DoctorStatus = 'ok' | 'warn' | 'fail';

export interface DoctorResult {
  name: string;
  status: DoctorStatus;
  detail: string;
  /** What to do about a WARN or FAIL. */
  fix?: string | undefined;
}

export const ok = (name: string, detail: string): DoctorResult => ({ name, status: 'ok', detail });
export const warn = (name: string, detail: string, fix?: string): DoctorResult => ({ name, status: 'warn', detail, fix });
export const fail = (name: string, detail: string, fix: string): DoctorResult => ({ name, status: 'fail', detail, fix });

/** The text report: one line per check, the fix indented below a WARN or FAIL. */
export function formatDoctorReport(results: readonly DoctorResult[]): string[] {
  const width = Math.max(...results.map((r) => r.name.length));
  const lines: string[] = [];
  for (const r of results) {
    lines.push(`${r.status.toUpperCase().padEnd(4)}  ${r.name.padEnd(width)}  ${r.detail}`);
    if (r.fix) lines.push(`${' '.repeat(width + 8)}fix: ${r.fix}`);
  }
  const failed = results.filter((r) => r.status === 'fail').length;
  const warned = results.filter((r) => r.status === 'warn').length;
  lines.push('');
  lines.push(failed > 0 ? `${failed} problem(s) would stop an update; ${warned} warning(s).` : `Nothing would stop an update; ${warned} warning(s).`);
  return lines;
}
