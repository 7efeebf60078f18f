import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderSettingsDoc, renderUpdateConfExample } from '../../scripts/update-conf-example.ts';
import { KEY_SPECS, settingsSchema } from '../../src/config/schema.ts';
import { parseKeyValueText } from '../../src/config/key-value.ts';

describe('update.conf.example', () => {
  const text = readFileSync(new URL('../../update.conf.example', import.meta.url), 'utf8');
  it('is current (regenerate with: npm run settings:docs)', () => {
    expect(text).toBe(renderUpdateConfExample());
  });
  it('documents every key, and every uncommented line would parse', () => {
    for (const spec of KEY_SPECS) expect(text).toContain(`#${spec.key}=`);
    const uncommented = text
      .split('\n')
      .map((l) => l.replace(/^#(?=[A-Z_]+=)/, ''))
      .join('\n');
    expect(parseKeyValueText(uncommented, 'x').problems).toEqual([]);
  });
});

describe('docs/settings.md', () => {
  it('is current (regenerate with: npm run settings:docs)', () => {
    expect(readFileSync(new URL('../../docs/settings.md', import.meta.url), 'utf8')).toBe(renderSettingsDoc());
  });
  it('has one row per key', () => {
    const rows = renderSettingsDoc()
      .split('\n')
      .filter((l) => l.startsWith('| `'));
    expect(rows.map((r) => /^\| `(\w+)`/.exec(r)?.[1])).toEqual(KEY_SPECS.map((s) => s.key));
  });
});

describe('the key table', () => {
  it('gives examples that are valid values, all together', () => {
    const examples = Object.fromEntries(KEY_SPECS.filter((s) => s.example !== undefined).map((s) => [s.field, s.example]));
    expect(Object.keys(examples).length).toBeGreaterThan(20);
    const result = settingsSchema.safeParse(examples);
    expect(result.error?.issues ?? []).toEqual([]);
  });
});
