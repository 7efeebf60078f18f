// update_engine_client's -watch_for_updates output: for each status signal, six glog INFO lines on
// stderr ("Got status update:" and the five fields), as StatusUpdateSignalHandler logs them
// (flatcar/update_engine src/update_engine/update_engine_client.cc), with glog's line prefix.

import { updateEngineProgress, type StatusSnapshot } from '../daemon/status.ts';

/** The source file and line of each LOG(INFO) in update_engine_client.cc's StatusUpdateSignalHandler. */
const SOURCE = 'update_engine_client.cc';
const FIRST_LINE = 79;

const pad = (n: number, width: number) => String(n).padStart(width, '0');

/** glog's prefix: "Immdd hh:mm:ss.uuuuuu thread file:line] " (thread id right-aligned in 5 columns). */
export function glogPrefix(date: Date, threadId: number, line: number, file = SOURCE): string {
  const micros = pad(date.getMilliseconds() * 1000, 6);
  return `I${pad(date.getMonth() + 1, 2)}${pad(date.getDate(), 2)} ${pad(date.getHours(), 2)}:${pad(date.getMinutes(), 2)}:${pad(date.getSeconds(), 2)}.${micros} ${String(threadId).padStart(5, ' ')} ${file}:${line}] `;
}

/** A double as C++'s `ostream << double` writes it (%g with 6 significant digits): 0, 1, 0.5, 0.123457, 1e-07. */
export function formatCppDouble(x: number): string {
  if (x === 0) return '0';
  if (!Number.isFinite(x)) return Number.isNaN(x) ? 'nan' : x > 0 ? 'inf' : '-inf';
  const exponent = Math.floor(Math.log10(Math.abs(Number(x.toPrecision(6)))));
  if (exponent < -4 || exponent >= 6) {
    const [mantissa, exp] = x.toExponential(5).split('e') as [string, string];
    const m = mantissa.includes('.') ? mantissa.replace(/0+$/, '').replace(/\.$/, '') : mantissa;
    const e = Number(exp);
    return `${m}e${e < 0 ? '-' : '+'}${pad(Math.abs(e), 2)}`;
  }
  const fixed = x.toFixed(Math.max(0, 5 - exponent));
  return fixed.includes('.') ? fixed.replace(/0+$/, '').replace(/\.$/, '') : fixed;
}

/** The six lines update_engine_client logs for one status signal. */
export function glogStatusLines(s: StatusSnapshot, date = new Date(), threadId = process.pid): string[] {
  const messages = [
    'Got status update:',
    `  last_checked_time: ${Math.floor(s.lastCheckedTimeSeconds)}`,
    `  progress: ${formatCppDouble(updateEngineProgress(s))}`,
    `  current_operation: ${s.status}`,
    `  new_version: ${s.newVersion}`,
    `  new_size: ${Math.floor(s.newSizeBytes)}`,
  ];
  return messages.map((m, i) => `${glogPrefix(date, threadId, FIRST_LINE + i)}${m}`);
}
