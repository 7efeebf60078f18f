// Writes update.conf.example from the key table in src/config/schema.ts (run: node bin/run-ts.js scripts/update-conf-example.ts).
// A test checks that the committed file is current.

import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { KEY_SPECS } from '../src/config/schema.ts';

export function renderUpdateConfExample(): string {
  const lines = [
    '# update.conf: settings of update-engine. Every key, with its default.',
    '# Layers, lowest precedence first: /usr/share/flatcar/release, /usr/share/flatcar/update.conf,',
    '# /etc/flatcar/update.conf (or /etc/coreos/update.conf), each --config FILE, then the environment',
    '# (UPDATE_ENGINE_<KEY>; LOCKSMITHD_* also under their own names).',
    '# Plain KEY=VALUE lines; one pair of quotes around a value is stripped; "export " is tolerated.',
    '# Sizes take K, M, G (powers of 1024); durations take Go syntax (1h30m).',
    '',
  ];
  for (const spec of KEY_SPECS) {
    lines.push(`# ${spec.doc}.`);
    if (spec.aliases?.length) lines.push(`# Also read as ${spec.aliases.join(', ')}.`);
    lines.push(`#${spec.key}=${spec.defaultText === undefined ? '' : /\s/.test(spec.defaultText) ? `"${spec.defaultText}"` : spec.defaultText}`);
    lines.push('');
  }
  return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(new URL('../update.conf.example', import.meta.url), renderUpdateConfExample());
}
