// Writes update.conf.example and docs/settings.md from the one key table in src/config/settings-table.ts
// (run: npm run settings:docs). A test checks that both committed files are current.

import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { KEY_SPECS } from '../src/config/schema.ts';

const LAYERS = [
  'Layers, lowest precedence first: /usr/share/flatcar/release, /usr/share/flatcar/update.conf,',
  '/etc/flatcar/update.conf (or /etc/coreos/update.conf), each --config FILE, then the environment',
  '(UPDATE_ENGINE_<KEY>; LOCKSMITHD_* also under their own names).',
  'Plain KEY=VALUE lines; one pair of quotes around a value is stripped; "export " is tolerated.',
  'Sizes take K, M, G (powers of 1024); durations take Go syntax (1h30m).',
];

const quoted = (value: string) => (/\s/.test(value) ? `"${value}"` : value);

export function renderUpdateConfExample(): string {
  const lines = ['# update.conf: settings of update-engine. Every key, with its default.', ...LAYERS.map((l) => `# ${l}`), ''];
  for (const spec of KEY_SPECS) {
    lines.push(`# ${spec.doc}.`);
    if (spec.aliases?.length) lines.push(`# Also read as ${spec.aliases.join(', ')}.`);
    if (spec.example !== undefined && spec.example !== spec.defaultText) lines.push(`# Example: ${spec.key}=${quoted(spec.example)}`);
    lines.push(`#${spec.key}=${spec.defaultText === undefined ? '' : quoted(spec.defaultText)}`);
    lines.push('');
  }
  return lines.join('\n');
}

const cell = (text: string) => text.replaceAll('|', '\\|');
const code = (text: string) => (text === '' ? '(empty)' : `\`${cell(text)}\``);

export function renderSettingsDoc(): string {
  const lines = [
    '# Settings',
    '',
    '<!-- Generated from src/config/settings-table.ts by `npm run settings:docs`; a test keeps it current. -->',
    '',
    ...LAYERS,
    '',
    '| Key | Default | Example | Meaning |',
    '| --- | --- | --- | --- |',
  ];
  for (const spec of KEY_SPECS) {
    const meaning = `${spec.doc}${spec.aliases?.length ? ` (also read as ${spec.aliases.join(', ')})` : ''}`;
    lines.push(
      `| \`${spec.key}\` | ${spec.defaultText === undefined ? '' : code(spec.defaultText)} | ${spec.example === undefined ? '' : code(spec.example)} | ${cell(meaning)} |`,
    );
  }
  return `${lines.join('\n')}\n`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(new URL('../update.conf.example', import.meta.url), renderUpdateConfExample());
  writeFileSync(new URL('../docs/settings.md', import.meta.url), renderSettingsDoc());
}
