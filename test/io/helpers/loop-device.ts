// Loop devices and small file systems for the io tests (root only): attach an image file we made,
// detach by its own name, unmount what a test mounted (tmpfs mounts: test/helpers/tmpfs.ts). Never
// touches a device we did not create.

import { execArgv } from '../../../src/platform/exec.ts';

async function run(argv: string[]): Promise<string> {
  const r = await execArgv(argv, { timeoutMs: 30_000 });
  if (r.exitCode !== 0) throw new Error(`${argv.join(' ')} failed (${r.exitCode}): ${r.stderr.trim()}`);
  return r.stdout.trim();
}

/** Attaches an image file to a free loop device and returns its node, e.g. /dev/loop3. */
export async function attachLoop(imagePath: string): Promise<string> {
  return run(['losetup', '--find', '--show', imagePath]);
}

/** Detaches the loop device we attached (by its own name). */
export async function detachLoop(device: string): Promise<void> {
  await run(['losetup', '--detach', device]);
}

/** Adds the partition nodes of a loop device (the kernel here does not scan GPTs by itself). */
export async function addPartitions(device: string): Promise<void> {
  await run(['partx', '--add', device]);
}

/** Removes the partition nodes again before detaching. */
export async function deletePartitions(device: string): Promise<void> {
  await run(['partx', '--delete', device]);
}

export async function unmount(dir: string): Promise<void> {
  await run(['umount', dir]);
}

export { run as runTool };
