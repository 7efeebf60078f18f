// `update-engine demo` as root with the filesystem tools: images built from rootfs trees, the
// kernel files on the ESP before and after; `--raw` keeps the rootless demo's raw images.

import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';
import { requireRoot, requireTool } from '../helpers/tools.ts';

describe('update-engine demo (whole OS)', () => {
  it('builds squashfs images, shows vmlinuz-a before and vmlinuz-a + vmlinuz-b after, and boots B', async () => {
    requireRoot('the whole-OS demo (loop devices, mount namespaces, FUSE)');
    for (const tool of ['mksquashfs', 'fusefat', 'mkfs.vfat', 'mcopy']) requireTool(tool);
    const r = await runCli('update-engine', ['demo', '--image-size', '6']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const before = r.stdout.slice(0, r.stdout.indexOf('2. A payload'));
    const after = r.stdout.slice(r.stdout.indexOf('the ESP after the post-install step'), r.stdout.indexOf('5. Reboot'));
    expect(before).toMatch(/ESP:\/flatcar\/vmlinuz-a .* "demo kernel 1\.0\.0"/);
    expect(before).not.toContain('vmlinuz-b');
    expect(r.stdout).toContain('into squashfs');
    const lineA = /ESP:\/flatcar\/vmlinuz-a .*/.exec(before)?.[0];
    expect(after).toContain(lineA); // the running slot's kernel is byte for byte the same
    expect(after).toMatch(/ESP:\/flatcar\/vmlinuz-b .* "demo kernel 2\.0\.0"/);
    expect(r.stdout).toMatch(/booted partition 4 \(USR-B\)/);
  });

  it('--raw runs the raw-image demo without an ESP', async () => {
    const r = await runCli('update-engine', ['demo', '--image-size', '2', '--raw']);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain('ESP:');
    expect(r.stdout).toContain('13/1, 14/1, 800/1, 3/2 (previousversion 1.0.0)');
  });
});
