// The GRUB environment block codec against GRUB's own grub-editenv (grub-common): what we write,
// GRUB's tool lists; what GRUB's tool writes, we parse; torn writes read as old or new.

import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeGrubenv, parseGrubenv, GRUBENV_SIZE } from '../../src/boot/grubenv-block.ts';
import { grubenvVars, slotsFromGrubenv } from '../../src/boot/grubenv-store.ts';
import { tempDir } from '../helpers/disk-image.ts';
import { requireTool } from '../helpers/tools.ts';

let cleanup: (() => void) | undefined;
afterEach(() => cleanup?.());

const editenv = (file: string, ...args: string[]) => {
  requireTool('grub-editenv');
  return execFileSync('grub-editenv', [file, ...args], { encoding: 'utf8' });
};

describe('GRUB environment block', () => {
  it('writes a block that grub-editenv lists, 1024 bytes, # padded', () => {
    const t = tempDir();
    cleanup = t.cleanup;
    const file = join(t.dir, 'grubenv');
    const block = encodeGrubenv(
      new Map([
        ['UE_ORDER', 'B A'],
        ['A_OK', '1'],
        ['B_TRY', '1'],
        ['ODD', 'back\\slash'],
      ]),
    );
    expect(block.length).toBe(GRUBENV_SIZE);
    expect(block.subarray(512).toString('latin1')).toBe('#'.repeat(512));
    writeFileSync(file, block);
    expect(editenv(file, 'list').split('\n')).toEqual(['UE_ORDER=B A', 'A_OK=1', 'B_TRY=1', 'ODD=back\\slash', '']);
  });

  it('reads what grub-editenv writes, escapes included', () => {
    const t = tempDir();
    cleanup = t.cleanup;
    const file = join(t.dir, 'grubenv');
    editenv(file, 'create');
    editenv(file, 'set', 'UE_ORDER=A B', 'A_OK=1', 'B_OK=0', 'X=a\\b');
    const vars = parseGrubenv(readFileSync(file));
    expect(vars && Object.fromEntries(vars)).toEqual({ UE_ORDER: 'A B', A_OK: '1', B_OK: '0', X: 'a\\b' });
  });

  it('rejects a block without the signature (GRUB: "invalid environment block")', () => {
    expect(parseGrubenv(Buffer.alloc(1024, 0))).toBeUndefined();
  });

  it('refuses content beyond the first sector', () => {
    expect(() => encodeGrubenv(new Map([['BIG', 'x'.repeat(600)]]))).toThrow(/512/);
  });

  it('a write torn between the two sectors reads as the new state (the second sector never changes)', () => {
    const old = encodeGrubenv(
      grubenvVars([
        { letter: 'A', partition: 3, priority: 1, tries: 0, successful: true },
        { letter: 'B', partition: 4, priority: 0, tries: 0, successful: false },
      ]),
    );
    const next = encodeGrubenv(
      grubenvVars([
        { letter: 'A', partition: 3, priority: 1, tries: 0, successful: true },
        { letter: 'B', partition: 4, priority: 2, tries: 1, successful: false },
      ]),
    );
    expect(next.subarray(512).equals(old.subarray(512))).toBe(true);
    const torn = Buffer.concat([next.subarray(0, 512), old.subarray(512)]);
    expect(slotsFromGrubenv(parseGrubenv(torn) as Map<string, string>, { slotAPartition: 3, slotBPartition: 4 })).toEqual([
      { letter: 'A', partition: 3, priority: 1, tries: 0, successful: true },
      { letter: 'B', partition: 4, priority: 2, tries: 1, successful: false },
    ]);
  });

  it('projects GPT-style states to order/ok/try and back', () => {
    const slots = [
      { letter: 'A' as const, partition: 3, priority: 1, tries: 0, successful: true },
      { letter: 'B' as const, partition: 4, priority: 2, tries: 1, successful: false },
    ];
    const vars = grubenvVars(slots);
    expect(Object.fromEntries(vars)).toEqual({ UE_ORDER: 'B A', A_OK: '1', A_TRY: '0', B_OK: '0', B_TRY: '1' });
    expect(slotsFromGrubenv(vars, { slotAPartition: 3, slotBPartition: 4 })).toEqual(slots);
    const off = grubenvVars([{ ...slots[0]! }, { ...slots[1]!, priority: 0, tries: 0 }]);
    expect(off.get('UE_ORDER')).toBe('A');
  });
});
