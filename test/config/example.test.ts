import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderUpdateConfExample } from '../../scripts/update-conf-example.ts';
import { KEY_SPECS } from '../../src/config/schema.ts';
import { parseKeyValueText } from '../../src/config/key-value.ts';

describe('update.conf.example', () => {
  const text = readFileSync(new URL('../../update.conf.example', import.meta.url), 'utf8');
  it('is current (regenerate with: node bin/run-ts.js scripts/update-conf-example.ts)', () => {
    expect(text).toBe(renderUpdateConfExample());
  });
  it('documents every key, and every uncommented line would parse', () => {
    for (const spec of KEY_SPECS) expect(text).toContain(`#${spec.key}=`);
    const uncommented = text.split('\n').map((l) => l.replace(/^#(?=[A-Z_]+=)/, '')).join('\n');
    expect(parseKeyValueText(uncommented, 'x').problems).toEqual([]);
  });
});
