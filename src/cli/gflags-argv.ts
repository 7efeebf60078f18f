// Command lines as gflags reads them (update_engine_client is a gflags program): -flag and --flag,
// -flag=true|false (also 1/0, yes/no, t/f, y/n), -noflag, and a bare true/false after a boolean
// flag; string flags as -name=V or -name V. Rewritten to the --long form node's parseArgs takes.

import { UpdateEngineError } from '../errors.ts';

const TRUE = new Set(['true', 't', 'yes', 'y', '1']);
const FALSE = new Set(['false', 'f', 'no', 'n', '0']);

function boolValue(text: string, flag: string): boolean {
  const v = text.toLowerCase();
  if (TRUE.has(v)) return true;
  if (FALSE.has(v)) return false;
  throw new UpdateEngineError('ERR_USAGE', `Invalid value "${text}" for -${flag}: expected true or false`);
}

/**
 * Rewrites gflags spellings of the given boolean and string flags to `--name` / `--name=V`; a boolean
 * set to false is dropped. Other arguments (and everything after `--`) pass through unchanged.
 */
export function normalizeGflagsArgv(argv: readonly string[], flags: { booleans: readonly string[]; strings: readonly string[] }): string[] {
  const booleans = new Set(flags.booleans);
  const strings = new Set(flags.strings);
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const m = /^--?([A-Za-z_][A-Za-z0-9_]*)(?:=(.*))?$/s.exec(arg);
    if (!m) {
      out.push(arg);
      continue;
    }
    const name = m[1] as string;
    const value = m[2];
    if (booleans.has(name)) {
      let on = value === undefined ? true : boolValue(value, name);
      // `-status true`: a bare boolean word right after a boolean flag is its value.
      const next = argv[i + 1];
      if (value === undefined && next !== undefined && (TRUE.has(next.toLowerCase()) || FALSE.has(next.toLowerCase()))) {
        on = boolValue(next, name);
        i++;
      }
      if (on) out.push(`--${name}`);
      continue;
    }
    if (name.startsWith('no') && booleans.has(name.slice(2)) && value === undefined) continue;
    if (strings.has(name)) {
      out.push(value === undefined ? `--${name}` : `--${name}=${value}`);
      continue;
    }
    out.push(arg);
  }
  return out;
}
