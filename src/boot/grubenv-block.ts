// The GRUB environment block (pure): a 1024-byte file that starts with "# GRUB Environment Block\n",
// holds name=value lines (a backslash escapes "\\" and a newline, grub-core/lib/envblk.c) and is padded
// with '#'. GRUB's load_env reads it, save_env rewrites it in place (it never changes size).

import { UpdateEngineError } from '../errors.ts';

export const GRUBENV_SIGNATURE = '# GRUB Environment Block\n';
export const GRUBENV_SIZE = 1024;
/** Kept inside the first sector so that a torn two-sector write cannot change what is read (docs/boot-backends.md). */
export const GRUBENV_CONTENT_LIMIT = 512;

/** Parses a block; undefined when the signature is missing (GRUB then reports "invalid environment block"). */
export function parseGrubenv(block: Buffer): Map<string, string> | undefined {
  const text = block.toString('latin1');
  if (!text.startsWith(GRUBENV_SIGNATURE)) return undefined;
  const vars = new Map<string, string>();
  let i = GRUBENV_SIGNATURE.length;
  while (i < text.length) {
    if (text[i] === '#') {
      // A comment line (GRUB skips lines starting with '#'); the padding is one long such line.
      const nl = text.indexOf('\n', i);
      if (nl < 0) break;
      i = nl + 1;
      continue;
    }
    let line = '';
    let j = i;
    for (; j < text.length && text[j] !== '\n'; j += 1) {
      if (text[j] === '\\' && j + 1 < text.length) {
        j += 1;
      }
      line += text[j];
    }
    const eq = line.indexOf('=');
    if (eq > 0) vars.set(line.slice(0, eq), line.slice(eq + 1));
    i = j + 1;
  }
  return vars;
}

const escapeValue = (v: string): string => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\\n');

/** Builds a full 1024-byte block; the variables must fit in the first 512 bytes. */
export function encodeGrubenv(vars: ReadonlyMap<string, string>): Buffer {
  let body = GRUBENV_SIGNATURE;
  for (const [name, value] of vars) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new UpdateEngineError('ERR_INTERNAL', `Invalid GRUB variable name "${name}"`);
    body += `${name}=${escapeValue(value)}\n`;
  }
  if (Buffer.byteLength(body, 'latin1') > GRUBENV_CONTENT_LIMIT) {
    throw new UpdateEngineError(
      'ERR_BOOT_CONFIG',
      `The GRUB environment needs ${body.length} bytes; more than the ${GRUBENV_CONTENT_LIMIT} that a single sector holds`,
    );
  }
  return Buffer.from(body.padEnd(GRUBENV_SIZE, '#'), 'latin1');
}
