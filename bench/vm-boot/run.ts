// The VM boot benchmark (issue 16): how long one boot of the VM lab takes under QEMU TCG (OVMF ->
// GRUB or systemd-boot -> Debian kernel -> busybox initramfs -> power off), per backend, with the
// machine's load average beside it (the boots share the CPU with everything else).
// Prints the figures and writes bench/out/vm-boot.json.
// Usage: node bin/run-ts.js bench/vm-boot/run.ts [--boots 3] [--backends grubenv,bls]

import { loadavg, tmpdir } from 'node:os';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { VmLab } from '../../src/demo/vm/vm-lab.ts';
import type { VmBackend } from '../../src/demo/vm/vm-disk.ts';

const { values: args } = parseArgs({ options: { boots: { type: 'string', default: '3' }, backends: { type: 'string', default: 'grubenv,bls' } } });
const boots = Number(args.boots);
const backends = (args.backends ?? '').split(',') as VmBackend[];
const log = (line: string) => process.stdout.write(`${line}\n`);
const s = (ms: number) => (ms / 1000).toFixed(1);

const results: Record<string, { bootsMs: number[]; medianMs: number; load1: number[] }> = {};
for (const backend of backends) {
  const dir = await mkdtemp(join(tmpdir(), `ue-bench-vm-${backend}-`));
  const vm = new VmLab({ dir, backend });
  try {
    await vm.setUp();
    const bootsMs: number[] = [];
    const load1: number[] = [];
    for (let i = 0; i < boots; i += 1) {
      load1.push(loadavg()[0] ?? 0);
      bootsMs.push((await vm.boot(`bench boot ${i + 1}`)).durationMs);
    }
    const sorted = [...bootsMs].sort((a, b) => a - b);
    const medianMs = sorted[Math.floor(sorted.length / 2)] ?? 0;
    results[backend] = { bootsMs, medianMs, load1 };
    log(`${backend}: ${boots} boots: ${bootsMs.map(s).join(' ')} s (median ${s(medianMs)} s; load average ${load1.map((l) => l.toFixed(1)).join(' ')})`);
  } finally {
    await vm.close();
    await rm(dir, { recursive: true, force: true });
  }
}
await mkdir(new URL('../out/', import.meta.url), { recursive: true });
await writeFile(new URL('../out/vm-boot.json', import.meta.url), `${JSON.stringify({ at: new Date().toISOString(), accel: 'tcg', results }, null, 2)}\n`);
