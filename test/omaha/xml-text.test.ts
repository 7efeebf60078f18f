// Attribute escaping and entity decoding round-trip; only the predefined entities are decoded.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeXmlText, escapeXmlAttribute } from '../../src/omaha/xml-text.ts';

describe('escapeXmlAttribute / decodeXmlText', () => {
  it('escapes the five markup characters and white space that attributes would normalize', () => {
    expect(escapeXmlAttribute(`<a href="x">&'\t\n\r`)).toBe('&lt;a href=&quot;x&quot;&gt;&amp;&apos;&#9;&#10;&#13;');
  });

  it('round-trips any string of valid XML characters', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        const clean = s.replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDFFF]/g, '');
        expect(decodeXmlText(escapeXmlAttribute(clean))).toBe(clean);
      }),
    );
  });

  it('decodes numeric references and leaves unknown entities alone', () => {
    expect(decodeXmlText('&#65;&#x42;&amp;&foo;&#x110000;')).toBe('AB&&foo;&#x110000;');
  });
});
