import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DIAGRAMS } from '../scripts/render-diagrams.ts';

describe('README diagrams in img/', () => {
  it.each(Object.keys(DIAGRAMS))('%s is current (regenerate: node bin/run-ts.js scripts/render-diagrams.ts)', (name) => {
    const committed = readFileSync(new URL(`../img/${name}`, import.meta.url), 'utf8');
    expect(committed).toBe((DIAGRAMS[name] as () => string)());
  });
  it.each(Object.keys(DIAGRAMS))('%s is well-formed SVG with a title', (name) => {
    const svg = (DIAGRAMS[name] as () => string)();
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg).toMatch(/<title>[^<]+<\/title>/);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect((svg.match(/<text /g) ?? []).length).toBe((svg.match(/<\/text>/g) ?? []).length);
  });
});
