// update-engine config: print the effective settings, each with where its value came from.
// Each line is KEY=VALUE (quoted where needed) and its source as a trailing `# ...` comment; cut the
// comments and the lines form a valid update.conf (update.conf itself has no trailing comments).

import { parseCommandLine, println, type Command } from '../run.ts';
import { describeSource, type LoadedSettings } from '../../config/load.ts';
import { SETTINGS_OPTIONS, loadSettingsFromOptions } from '../settings-options.ts';
import { KEY_SPECS } from '../../config/schema.ts';
import { PLAIN_HTTP_SERVER_WARNING } from '../../config/schema.ts';
import { redactUrlPasswords } from '../../platform/redact.ts';

const HELP = `Usage: update-engine config [--config FILE]... [--sysroot DIR] [--json]

Print the effective settings, each with where its value came from: the release file,
/usr/share/flatcar/update.conf, /etc/flatcar/update.conf (or /etc/coreos/update.conf),
each --config FILE in order, then the environment (UPDATE_ENGINE_<KEY>, LOCKSMITHD_*).

Options:
  --config FILE   an extra settings file (repeatable; later files win)
  --sysroot DIR   read the system files under DIR instead of /
  --json          print {"KEY":{"value":...,"source":...}} instead
  -h, --help      show this help

Values that cannot be derived (VERSION, DISK) are shown with a warning on stderr. SERVER and
APP_ID come only from the operator's layers (/etc, --config, the environment): a value of theirs
in a vendor file (the release file, /usr/share/flatcar/update.conf) is shown as ignored, with why.
Exit status: 0, or 3 when a file or the environment holds an invalid value.`;

function quote(value: string): string {
  if (/^[A-Za-z0-9_./:,@+=-]*$/.test(value)) return value;
  // update.conf strips one pair of quotes and has no escapes; only control characters are shown escaped.
  return /[\u0000-\u0008\u000a-\u001f\u007f]/.test(value) ? JSON.stringify(value) : `"${value}"`;
}

/** The settings as KEY -> {value, source} (secrets masked); shared by --json and the text output. */
export function effectiveSettings(loaded: LoadedSettings): Array<{ key: string; value: string | undefined; source: string }> {
  return KEY_SPECS.map((spec) => {
    const raw = loaded.raw.get(spec.key);
    // A blank secret is "not set" (load.ts): shown blank, so that the printed file loads back the same.
    if (raw) return { key: spec.key, value: spec.secret && raw.value.trim() !== '' ? '********' : raw.value, source: describeSource(raw.source) };
    return { key: spec.key, value: spec.defaultText, source: spec.defaultText === undefined ? 'not set' : 'default' };
  });
}

export const run: Command = async (argv, ctx) => {
  const { values } = parseCommandLine(argv, {
    ...SETTINGS_OPTIONS,
    json: { type: 'boolean' },
  });
  if (values.help) {
    println(ctx.stdout, HELP);
    return 0;
  }
  const loaded = await loadSettingsFromOptions(values, ctx.env);
  if (!loaded.settings.disk) {
    loaded.warnings.push('DISK is not set: the daemon looks for the disk behind the booted /usr at run time; set DISK to choose it');
  }
  if (!loaded.settings.serverDisabled && loaded.settings.server.startsWith('http:')) loaded.warnings.push(PLAIN_HTTP_SERVER_WARNING);
  const rows = effectiveSettings(loaded);
  if (values.json) {
    println(
      ctx.stdout,
      redactUrlPasswords(JSON.stringify(Object.fromEntries(rows.map((r) => [r.key, { value: r.value ?? null, source: r.source }])), null, 2)),
    );
  } else {
    const width = Math.max(...rows.map((r) => `${r.key}=${quote(r.value ?? '')}`.length));
    for (const r of rows) {
      const line = r.value === undefined ? `#${r.key}=` : `${r.key}=${quote(r.value)}`;
      println(ctx.stdout, redactUrlPasswords(`${line.padEnd(width + 1)} # ${r.source}`));
    }
  }
  if (values.json) {
    for (const i of loaded.ignored) println(ctx.stderr, `ignored: ${i.key}=${quote(i.value)} (${describeSource(i.source)}): ${i.why}`);
  } else {
    for (const i of loaded.ignored) println(ctx.stdout, `# ignored: ${i.key}=${quote(i.value)} # ${describeSource(i.source)}: ${i.why}`);
  }
  if (loaded.settings.serverDisabled && !loaded.raw.has('SERVER')) {
    loaded.warnings.push('SERVER is not set: no update checks; set SERVER=https://HOST/v1/update/ (your Nebraska) in /etc/flatcar/update.conf');
  }
  for (const w of loaded.warnings) println(ctx.stderr, `warning: ${w}`);
  return 0;
};
