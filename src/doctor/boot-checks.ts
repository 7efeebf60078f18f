// doctor's boot backend check: which BOOT_BACKEND is configured and whether the ESP holds what its
// bootloader needs (the grubenv fragment and block, or loader.conf, BLS entries and kernels).

import { createBootBackend } from '../boot/create-boot-backend.ts';
import type { Settings } from '../config/schema.ts';
import { fail, ok, type DoctorResult } from './doctor-result.ts';

export async function checkBootBackend(settings: Settings, disk: string | undefined): Promise<DoctorResult> {
  const backend = createBootBackend(settings);
  if (backend.name === 'gptprio') return ok('boot backend', 'gptprio: the GPT priority/tries/successful bits, read by a gptprio-capable GRUB (Flatcar)');
  if (disk === undefined) return fail('boot backend', `${backend.name}: cannot check the ESP without the disk`, 'fix the slots check first');
  const checks = await backend.describe(disk);
  const bad = checks.filter((c) => !c.ok);
  const detail = checks.map((c) => c.message).join('; ');
  if (bad.length === 0) return ok('boot backend', detail);
  return fail(
    'boot backend',
    detail,
    `set ESP to where the EFI system partition is (now "${settings.esp}") and run "update-engine boot install-config --backend ${backend.name} --esp DIR"; put the kernels on the ESP`,
  );
}
