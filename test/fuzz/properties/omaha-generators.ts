// Generators for Omaha response fuzzing: XML token soup, mutations of the fixture responses,
// entity-expansion attacks (billion laughs, external and parameter entities) and bodies near the cap.

import fc from 'fast-check';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../../helpers/cli.ts';
import { MAX_RESPONSE_BYTES } from '../../../src/omaha/response-parser.ts';

/** The fixture documents (responses and the request sample), by file name. */
export const OMAHA_FIXTURES: ReadonlyArray<{ name: string; text: string }> = readdirSync(join(REPO_ROOT, 'fixtures/omaha'))
  .filter((f) => f.endsWith('.xml'))
  .sort()
  .map((name) => ({ name, text: readFileSync(join(REPO_ROOT, 'fixtures/omaha', name), 'utf8') }));

/** Pieces of XML that parsers trip over. */
export const XML_TOKENS = [
  '<',
  '>',
  '/>',
  '</',
  '"',
  "'",
  '=',
  '&',
  ';',
  '&amp;',
  '&lt;',
  '&quot;',
  '&#0;',
  '&#x0;',
  '&#xFFFF;',
  '&#x110000;',
  '&#99999999;',
  '&xxe;',
  '<!DOCTYPE',
  '<!doctype r>',
  '<!ENTITY',
  ']]>',
  '<![CDATA[',
  '<!--',
  '-->',
  '<?xml version="1.0"?>',
  '<?pi x?>',
  '\u0000',
  '\uFEFF',
  '\uD800',
  '<response>',
  '</response>',
  '<app appid="x">',
  '</app>',
  '<updatecheck status="ok">',
  '<urls>',
  '<url codebase="http://h/"/>',
  '<manifest version="1.2.3">',
  '<package name="p" size="1"/>',
  '<action event="postinstall" sha256="AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="/>',
  '__proto__',
  'constructor',
  'prototype',
  'hasOwnProperty',
  '<__proto__/>',
  '<constructor>',
  ' xmlns:a="b"',
  ' a:b="c"',
  'status="noupdate"',
];

const tokenArb = fc.oneof(fc.constantFrom(...XML_TOKENS), fc.string({ maxLength: 6 }));

/** Token soup: mostly XML-shaped, never well-formed by design. */
export const xmlSoupArb: fc.Arbitrary<string> = fc.array(tokenArb, { maxLength: 60 }).map((t) => t.join(''));

/** Elements nested deeper than any Omaha response (and than the parser's limit), with a reserved name now and then. */
export const deepNestingArb: fc.Arbitrary<string> = fc
  .tuple(fc.integer({ min: 1, max: 3000 }), fc.constantFrom('a', 'app', 'urls', '__proto__', 'constructor'), fc.boolean())
  .map(([depth, name, closed]) => `<response>${`<${name}>`.repeat(depth)}${closed ? `</${name}>`.repeat(depth) : ''}</response>`);

type Mutation = (text: string) => string;

const at = (text: string, frac: number) => Math.floor(frac * (text.length + 1));
const fracArb = fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true });

/** One edit of a document: a character, a range, a token, an attribute value, an element. */
const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.tuple(fracArb, fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })).map(
    ([f, c]): Mutation =>
      (t) => {
        const i = at(t, f);
        return t.slice(0, i) + c + t.slice(i + 1);
      },
  ),
  fc.tuple(fracArb, fc.integer({ min: 1, max: 40 })).map(
    ([f, n]): Mutation =>
      (t) => {
        const i = at(t, f);
        return t.slice(0, i) + t.slice(i + n);
      },
  ),
  fc.tuple(fracArb, tokenArb).map(
    ([f, tok]): Mutation =>
      (t) => {
        const i = at(t, f);
        return t.slice(0, i) + tok + t.slice(i);
      },
  ),
  fc.tuple(fracArb, fracArb).map(
    ([a, b]): Mutation =>
      (t) => {
        const [i, j] = [at(t, a), at(t, b)].sort((x, y) => x - y);
        return t.slice(0, j) + t.slice(i, j) + t.slice(j);
      },
  ),
  fc
    .tuple(
      fracArb,
      fc.oneof(fc.string({ maxLength: 20 }), tokenArb, fc.constantFrom('', ' ', '0', '-1', '99999999999999999999', 'true', 'TRUE', '/', '..', 'a/b', '&xxe;')),
    )
    .map(
      ([f, value]): Mutation =>
        (t) => {
          const attrs = [...t.matchAll(/="[^"]*"/g)];
          const m = attrs[Math.floor(f * attrs.length)];
          return m?.index === undefined ? t : `${t.slice(0, m.index)}="${value}"${t.slice(m.index + m[0].length)}`;
        },
    ),
  fracArb.map(
    (f): Mutation =>
      (t) => {
        const elements = [...t.matchAll(/<([A-Za-z]+)\b[^>]*?(\/>|>[\s\S]*?<\/\1>)/g)];
        const m = elements[Math.floor(f * elements.length)];
        return m?.index === undefined ? t : t.slice(0, m.index) + t.slice(m.index + m[0].length);
      },
  ),
);

/** A fixture after one to five edits. */
export const mutatedFixtureArb: fc.Arbitrary<{ fixture: string; text: string }> = fc
  .tuple(fc.constantFrom(...OMAHA_FIXTURES), fc.array(mutationArb, { minLength: 1, maxLength: 5 }))
  .map(([f, edits]) => ({ fixture: f.name, text: edits.reduce((t, edit) => edit(t), f.text) }));

/** Entity declarations and references of every kind a DTD-processing parser would expand. */
export const entityAttackArb: fc.Arbitrary<string> = fc
  .record({
    keyword: fc.constantFrom('<!DOCTYPE', '<!doctype', '<!DocType', '<!DOCTYPE\n', '<!DOCTYPE\t'),
    depth: fc.integer({ min: 1, max: 10 }),
    width: fc.integer({ min: 2, max: 10 }),
    kind: fc.constantFrom('laughs', 'external', 'parameter', 'external-in-attribute'),
    declaration: fc.boolean(),
    bom: fc.boolean(),
    comment: fc.boolean(),
  })
  .map(({ keyword, depth, width, kind, declaration, bom, comment }) => {
    const decls: string[] = ['<!ENTITY e0 "lol">'];
    for (let d = 1; d < depth; d++) decls.push(`<!ENTITY e${d} "${`&e${d - 1};`.repeat(width)}">`);
    if (kind === 'external' || kind === 'external-in-attribute') decls.push('<!ENTITY xxe SYSTEM "file:///etc/passwd">');
    if (kind === 'parameter') decls.push('<!ENTITY % p SYSTEM "http://127.0.0.1:9/evil.dtd"> %p;');
    const ref = kind === 'laughs' ? `&e${depth - 1};` : '&xxe;';
    const codebase = kind === 'external-in-attribute' ? ref : 'http://h/';
    const body = `<response protocol="3.0"><app appid="a" status="ok"><updatecheck status="ok"><urls><url codebase="${codebase}"/></urls><manifest version="${ref}"><packages><package name="p" size="1"/></packages><actions><action event="postinstall" sha256="AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="/></actions></manifest>${ref}</updatecheck></app></response>`;
    return `${bom ? '\uFEFF' : ''}${declaration ? '<?xml version="1.0"?>\n' : ''}${comment ? '<!-- hi -->' : ''}${keyword} response [${decls.join('')}]>${body}`;
  });

/** Bodies of about 1 MiB: padding of several kinds around a valid offer, just under or just over the cap. */
export const nearCapBodyArb: fc.Arbitrary<{ body: string | Buffer; bytes: number }> = fc
  .record({
    delta: fc.integer({ min: -64, max: 64 }),
    filler: fc.constantFrom('space', 'comment', 'urls', 'attribute', 'multibyte'),
    asBuffer: fc.boolean(),
  })
  .map(({ delta, filler, asBuffer }) => {
    const fixture = OMAHA_FIXTURES.find((f) => f.name === 'nebraska-ok.xml')?.text ?? '';
    const target = MAX_RESPONSE_BYTES + delta;
    const base = Buffer.byteLength(fixture);
    let body: string;
    const room = Math.max(0, target - base);
    if (filler === 'space') body = fixture + ' '.repeat(room);
    else if (filler === 'comment') body = fixture + `<!--${'x'.repeat(Math.max(0, room - 7))}-->`.slice(0, room);
    else if (filler === 'urls')
      body = fixture.replace('<urls>', `<urls>${'<url codebase="http://m/"/>'.repeat(Math.floor(room / 26))}${' '.repeat(room % 26)}`);
    else if (filler === 'attribute') body = fixture.replace('<ping ', `<ping pad="${'p'.repeat(Math.max(0, room - 7))}" `);
    else body = `${fixture + ' '.repeat(room % 3)}<!--${'é'.repeat(Math.max(0, Math.floor((room - 7) / 2)))}-->`;
    const bytes = Buffer.byteLength(body);
    return { body: asBuffer ? Buffer.from(body) : body, bytes };
  });
