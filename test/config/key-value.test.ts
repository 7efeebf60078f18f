import { describe, expect, it } from 'vitest';
import { parseKeyValueText } from '../../src/config/key-value.ts';

describe('parseKeyValueText', () => {
  it.each([
    ['KEY=value', 'KEY', 'value'],
    ['KEY="quoted value"', 'KEY', 'quoted value'],
    ["KEY='single'", 'KEY', 'single'],
    ['export KEY=value', 'KEY', 'value'],
    ['  KEY = spaced  ', 'KEY', 'spaced'],
    ['KEY=', 'KEY', ''],
    ['KEY=a=b', 'KEY', 'a=b'],
    ['KEY=""', 'KEY', ''],
    ['KEY="\'inner\'"', 'KEY', "'inner'"],
  ])('%s', (line, key, value) => {
    const r = parseKeyValueText(line, 'f');
    expect(r.problems).toEqual([]);
    expect(r.entries).toEqual([{ key, value, line: 1 }]);
  });

  it('skips comments and blank lines and numbers lines from 1', () => {
    const r = parseKeyValueText('# comment\n\n   \nA=1\n  # indented comment\nB=2\n', 'f');
    expect(r.entries).toEqual([
      { key: 'A', value: '1', line: 4 },
      { key: 'B', value: '2', line: 6 },
    ]);
  });

  it.each([
    ['no equals sign', 'JUSTTEXT', 'expected KEY=VALUE'],
    ['a bad key', '1KEY=x', 'invalid key "1KEY"'],
    ['an unterminated quote', 'KEY="open', 'unterminated double quote'],
    ['a key with a dash', 'MY-KEY=1', 'invalid key "MY-KEY"'],
  ])('reports %s with its line', (_name, line, reason) => {
    const r = parseKeyValueText(`A=1\n${line}\n`, 'f');
    expect(r.entries).toHaveLength(1);
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]?.line).toBe(2);
    expect(r.problems[0]?.reason).toContain(reason);
  });

  it('handles CRLF line endings', () => {
    expect(parseKeyValueText('A=1\r\nB=2\r\n', 'f').entries.map((e) => e.value)).toEqual(['1', '2']);
  });
});
