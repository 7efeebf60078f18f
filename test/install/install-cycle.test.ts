// The post-install step in the real daemon cycle (--once, dev Omaha server, boot simulator), as
// root on a GPT image file whose new slot holds a squashfs with a kernel and a /postinst: success
// flips with vmlinuz-b on the ESP; a failing /postinst reports 3/0 with error code 5 and A boots.

import { mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runDaemon } from '../../src/daemon/main.ts';
import type { UpdateEngine } from '../../src/daemon/engine.ts';
import { UpdateLab } from '../../src/demo/lab.ts';
import { UpdateEngineError } from '../../src/errors.ts';
import { silentLogger } from '../../src/platform/logger.ts';
import { RecordingRebooter } from '../fakes/recording-rebooter.ts';
import { buildFsImage, makeEsp, makeTree, randomKernel, readEspFile } from '../helpers/os-image.ts';
import { requireRoot, requireTool } from '../helpers/tools.ts';

const MIB = 1024 * 1024;
let dir: string;
let lab: UpdateLab;
const kernelA = randomKernel(900 * 1024);

beforeEach(async () => {
  requireRoot('mounts and mount namespaces');
  for (const tool of ['unshare', 'nsenter', 'setpriv', 'fusefat', 'mksquashfs', 'mcopy']) requireTool(tool);
  dir = await mkdtemp(join(tmpdir(), 'ue-install-cycle-'));
  lab = new UpdateLab({ dir, initialVersion: '1.0.0', usrSizeBytes: 16 * MIB, imageSizeBytes: 4 * MIB, efiSizeBytes: 40 * MIB });
  await lab.setUp();
  await makeEsp(lab.disk, { 'flatcar/vmlinuz-a': kernelA }, dir);
  mkdirSync(join(dir, 'boot'));
});
afterEach(async () => {
  await lab.close();
  await rm(dir, { recursive: true, force: true });
});

async function payloadOf(version: string, postinst: string): Promise<Buffer> {
  const kernel = randomKernel(1200 * 1024 + 1);
  makeTree(join(dir, `tree-${version}`), { kernel, postinst });
  const image = join(dir, `image-${version}.squashfs`);
  buildFsImage(join(dir, `tree-${version}`), image, 'squashfs');
  await lab.addPayload(version, { imagePath: image });
  await lab.serve();
  return kernel;
}

const daemonOnce = (onEngine?: (e: UpdateEngine) => void) =>
  runDaemon(lab.settings({ kernelDir: join(dir, 'boot', 'flatcar'), postinstallTimeoutMs: '20s' }), {
    ...(onEngine ? { onEngine } : {}),
    once: true,
    logger: silentLogger(),
    signal: new AbortController().signal,
    identityPaths: lab.identityPaths(),
    overrides: { rebooter: new RecordingRebooter() },
  });

const events = () => lab.events.map((e) => [e.eventtype, e.eventresult, e.errorcode]);

describe('the daemon cycle with the post-install step', () => {
  it('copies the kernel and runs /postinst before the flip; B boots with vmlinuz-b beside an untouched vmlinuz-a', async () => {
    const kernel = await payloadOf('2.0.0', '#!/bin/sh\necho "postinst for $UPDATE_ENGINE_NEW_VERSION on $1"\n');
    expect(await daemonOnce()).toBe(0);
    expect(events()).toEqual([
      [13, 1, null],
      [14, 1, null],
      [800, 1, null],
    ]);
    expect((await readEspFile(lab.disk, 'flatcar/vmlinuz-b'))?.equals(kernel)).toBe(true);
    expect((await readEspFile(lab.disk, 'flatcar/vmlinuz-a'))?.equals(kernelA)).toBe(true);
    expect((await lab.reboot()).partition).toBe(4);
  });

  it('-reset_status after the flip restores the GPT and touches no kernel: vmlinuz-b stays until the next update', async () => {
    const kernel = await payloadOf('2.0.0', '#!/bin/sh\ntrue\n');
    let engine: UpdateEngine | undefined;
    expect(await daemonOnce((e) => (engine = e))).toBe(0);
    await engine!.reset();
    const b = (await lab.slots()).find((s) => s.partition === 4)!;
    expect(b.priority).toBe(0);
    expect((await readEspFile(lab.disk, 'flatcar/vmlinuz-b'))?.equals(kernel)).toBe(true);
    expect((await readEspFile(lab.disk, 'flatcar/vmlinuz-a'))?.equals(kernelA)).toBe(true);
    expect((await lab.reboot()).partition).toBe(3);
  });

  it('a /postinst that exits 1 reports 3/0 with error code 5: no flip, A boots, vmlinuz-a intact, no vmlinuz-b', async () => {
    await payloadOf('2.0.0', '#!/bin/sh\necho refusing\nexit 1\n');
    const error = await daemonOnce().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(UpdateEngineError);
    expect((error as UpdateEngineError).code).toBe('ERR_POSTINSTALL');
    expect(events()).toEqual([
      [13, 1, null],
      [14, 1, null],
      [3, 0, 5],
    ]);
    const b = (await lab.slots()).find((s) => s.partition === 4)!;
    expect({ priority: b.priority, tries: b.tries, successful: b.successful }).toEqual({ priority: 0, tries: 0, successful: false });
    expect((await lab.reboot()).partition).toBe(3);
    expect((await readEspFile(lab.disk, 'flatcar/vmlinuz-a'))?.equals(kernelA)).toBe(true);
    expect(await readEspFile(lab.disk, 'flatcar/vmlinuz-b')).toBeUndefined();
  });
});
