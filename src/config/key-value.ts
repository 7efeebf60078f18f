// The KEY=VALUE file format of update.conf, os-release and the release file.
// `#` comments and blank lines are skipped, an `export ` prefix is tolerated, one pair of
// surrounding quotes is stripped. Lines that are not KEY=VALUE are reported with file:line.

export interface KeyValueEntry {
  key: string;
  value: string;
  /** 1-based line number. */
  line: number;
}

export interface KeyValueProblem {
  line: number;
  text: string;
  reason: string;
}

export interface KeyValueText {
  entries: KeyValueEntry[];
  problems: KeyValueProblem[];
}

const KEY_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

function stripQuotes(raw: string): { value: string; problem?: string } {
  const first = raw[0];
  if (first === '"' || first === "'") {
    if (raw.length >= 2 && raw.endsWith(first)) return { value: raw.slice(1, -1) };
    return { value: raw, problem: `unterminated ${first === '"' ? 'double' : 'single'} quote` };
  }
  return { value: raw };
}

/** Parses KEY=VALUE text. `source` names the file in problems; it is not read here. */
export function parseKeyValueText(text: string, source: string): KeyValueText {
  void source;
  const entries: KeyValueEntry[] = [];
  const problems: KeyValueProblem[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((rawLine, index) => {
    const line = index + 1;
    let body = rawLine.trim();
    if (body === '' || body.startsWith('#')) return;
    if (body.startsWith('export ') || body.startsWith('export\t')) body = body.slice('export'.length).trim();
    const eq = body.indexOf('=');
    if (eq < 0) {
      problems.push({ line, text: rawLine, reason: 'expected KEY=VALUE' });
      return;
    }
    const key = body.slice(0, eq).trim();
    if (!KEY_PATTERN.test(key)) {
      problems.push({ line, text: rawLine, reason: `invalid key "${key}" (letters, digits and _ only)` });
      return;
    }
    const { value, problem } = stripQuotes(body.slice(eq + 1).trim());
    if (problem) {
      problems.push({ line, text: rawLine, reason: problem });
      return;
    }
    entries.push({ key, value, line });
  });
  return { entries, problems };
}
