// The VM uses KVM where the machine offers /dev/kvm, and software emulation (TCG) otherwise.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { qemuAccelerator } from '../../../src/demo/vm/qemu-boot.ts';

describe('qemuAccelerator', () => {
  it('takes KVM when the device can be opened for reading and writing, TCG when it is missing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ue-kvm-'));
    try {
      const device = join(dir, 'kvm');
      expect(qemuAccelerator(device)).toBe('tcg');
      writeFileSync(device, '');
      expect(qemuAccelerator(device)).toBe('kvm');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
