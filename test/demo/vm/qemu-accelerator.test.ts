// The VM runs under TCG; with UPDATE_ENGINE_VM_KVM=1 it tries KVM first where /dev/kvm can be opened.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { qemuAccelerators } from '../../../src/demo/vm/qemu-boot.ts';

describe('qemuAccelerators', () => {
  it('tries KVM, then TCG, only when asked and the device can be opened; TCG alone otherwise', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ue-kvm-'));
    try {
      const device = join(dir, 'kvm');
      const asked = { UPDATE_ENGINE_VM_KVM: '1' };
      expect(qemuAccelerators(asked, device)).toEqual(['tcg']);
      writeFileSync(device, '');
      expect(qemuAccelerators(asked, device)).toEqual(['kvm', 'tcg']);
      expect(qemuAccelerators({}, device)).toEqual(['tcg']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
