// Issue 16 in a VM with BOOT_BACKEND=bls: systemd-boot reading BLS entries with boot counting,
// under OVMF and QEMU (TCG): cases 1-5 (see vm-cases.ts). Prints the boot times.

import { describe, expect, it } from 'vitest';
import { runVmCases } from './vm-cases.ts';

describe('a real boot in a VM, BOOT_BACKEND=bls', () => {
  it('boots A fresh, B after the update, A after an unconfirmed try, B for good after mark-good, A or B after any crash of the flip', async () => {
    const started = performance.now();
    const { bootMs, crash } = await runVmCases('bls');
    const s = (ms: number) => (ms / 1000).toFixed(1);
    console.log(`bls: ${bootMs.length} boots, each ${bootMs.map(s).join(' ')} s; whole test ${s(performance.now() - started)} s`);
    console.log(`bls crash points: ${crash.map((c) => `${c.step} -> ${c.slot}`).join('; ')}`);
    expect(crash.length).toBeGreaterThan(4);
  }, 900_000);
});
