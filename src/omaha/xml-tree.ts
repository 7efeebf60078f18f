// A small, safe view of parsed XML for the Omaha codec: fast-xml-parser with entity expansion off,
// DOCTYPE refused, a size cap, and helpers to read elements and attributes whatever their shape.

import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { decodeXmlText } from './xml-text.ts';

/** One element: its attributes (decoded) and child elements by name, each as a list. */
export interface XmlElement {
  name: string;
  attributes: Map<string, string>;
  children: Map<string, XmlElement[]>;
}

/** Why a document was refused; `kind` says whether it is too large, not XML, or the wrong root. */
export class XmlTreeError extends Error {
  constructor(
    readonly kind: 'too-large' | 'malformed' | 'doctype',
    message: string,
  ) {
    super(message);
  }
}

const ATTRS = '$';

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '',
  attributesGroupName: ATTRS,
  processEntities: false,
  htmlEntities: false,
  parseAttributeValue: false,
  parseTagValue: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  isArray: (_name, _path, _leaf, isAttribute) => !isAttribute,
});

function toElement(name: string, node: unknown): XmlElement {
  const element: XmlElement = { name, attributes: new Map(), children: new Map() };
  if (node === null || typeof node !== 'object') return element;
  for (const [key, value] of Object.entries(node as Record<string, unknown>)) {
    if (key === ATTRS && value !== null && typeof value === 'object') {
      for (const [attr, text] of Object.entries(value as Record<string, unknown>)) {
        element.attributes.set(attr, decodeXmlText(String(text)));
      }
    } else if (key !== '#text') {
      const list = Array.isArray(value) ? value : [value];
      element.children.set(
        key,
        list.map((child) => toElement(key, child)),
      );
    }
  }
  return element;
}

/** Parses a document of at most `maxBytes` bytes and returns its root element. */
export function parseXmlDocument(body: Buffer | string, maxBytes: number): XmlElement {
  const bytes = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
  if (bytes > maxBytes) throw new XmlTreeError('too-large', `the document is larger than ${maxBytes} bytes`);
  const text = typeof body === 'string' ? body : body.toString('utf8');
  if (/<!DOCTYPE|<!ENTITY/i.test(text)) throw new XmlTreeError('doctype', 'the document has a DOCTYPE or entity declaration, which is not allowed');
  const valid = XMLValidator.validate(text);
  if (valid !== true) {
    const where = valid.err.col === undefined ? `line ${valid.err.line}` : `line ${valid.err.line}, column ${valid.err.col}`;
    throw new XmlTreeError('malformed', `${where}: ${valid.err.msg}`);
  }
  let tree: Record<string, unknown>;
  try {
    // The validator passes some documents the parser refuses (nesting over 100, reserved names like __proto__).
    tree = parser.parse(text) as Record<string, unknown>;
  } catch (e) {
    throw new XmlTreeError('malformed', e instanceof Error ? e.message : String(e));
  }
  const roots = Object.entries(tree).filter(([key]) => key !== ATTRS && key !== '#text');
  const first = roots[0];
  if (roots.length !== 1 || first === undefined) throw new XmlTreeError('malformed', 'the document must have exactly one root element');
  const [name, node] = first;
  const list = Array.isArray(node) ? node : [node];
  if (list.length !== 1) throw new XmlTreeError('malformed', 'the document must have exactly one root element');
  return toElement(name, list[0]);
}

/** The child elements with this name (case-sensitive, as XML is). */
export function childrenOf(element: XmlElement | undefined, name: string): XmlElement[] {
  return element?.children.get(name) ?? [];
}

/** The first child element with this name. */
export function childOf(element: XmlElement | undefined, name: string): XmlElement | undefined {
  return childrenOf(element, name)[0];
}

/** An attribute, looked up exactly first, then case-insensitively (servers differ in spelling: IsDeltaPayload, isdeltapayload). */
export function attributeOf(element: XmlElement | undefined, name: string): string | undefined {
  if (!element) return undefined;
  const exact = element.attributes.get(name);
  if (exact !== undefined) return exact;
  const lower = name.toLowerCase();
  for (const [key, value] of element.attributes) if (key.toLowerCase() === lower) return value;
  return undefined;
}
