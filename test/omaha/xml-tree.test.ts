// The safe XML view: size cap, DOCTYPE refusal, one root, attributes looked up leniently.

import { describe, expect, it } from 'vitest';
import { XmlTreeError, attributeOf, childOf, childrenOf, parseXmlDocument } from '../../src/omaha/xml-tree.ts';

function kindOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof XmlTreeError ? e.kind : 'other';
  }
  return undefined;
}

describe('parseXmlDocument', () => {
  it('gives elements, lists of children and decoded attributes', () => {
    const root = parseXmlDocument('<r a="1&amp;2"><c n="x"/><c n="y"></c><d/></r>', 1000);
    expect(root.name).toBe('r');
    expect(root.attributes.get('a')).toBe('1&2');
    expect(childrenOf(root, 'c').map((c) => attributeOf(c, 'n'))).toEqual(['x', 'y']);
    expect(childOf(root, 'd')?.name).toBe('d');
    expect(childOf(root, 'missing')).toBeUndefined();
  });

  it('finds attributes case-insensitively when the exact name is absent', () => {
    const root = parseXmlDocument('<r isdeltapayload="true" IsDelta="x"/>', 1000);
    expect(attributeOf(root, 'IsDeltaPayload')).toBe('true');
    expect(attributeOf(root, 'IsDelta')).toBe('x');
  });

  it('refuses documents over the cap, with a DOCTYPE, or not well-formed', () => {
    expect(kindOf(() => parseXmlDocument('<r/>', 3))).toBe('too-large');
    expect(kindOf(() => parseXmlDocument('<!DOCTYPE r><r/>', 1000))).toBe('doctype');
    expect(kindOf(() => parseXmlDocument('<r><a></r>', 1000))).toBe('malformed');
    expect(kindOf(() => parseXmlDocument('<r/><s/>', 1000))).toBe('malformed');
    expect(kindOf(() => parseXmlDocument('<r a="1" a="2"/>', 1000))).toBe('malformed');
  });
});
