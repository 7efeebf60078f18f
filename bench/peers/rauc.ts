// RAUC as a peer: a signed bundle (plain format: this kernel has no device-mapper for verity) of the
// same image, and a RAUC service (on a private D-Bus system bus, booted slot given as A, bootloader
// noop) whose slot B is a loop device over the disk's slot range. The peer's run downloads the bundle
// from the static server, installs it with `rauc install` and syncs the slot. Root only.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface RaucPeer {
  bundlePath: string;
  /** Environment for `rauc install` (the private bus). */
  busAddress: string;
  servicePid: number;
  slotDevice: string;
  stop(): Promise<void>;
}

const run = (cwd: string, cmd: string, args: string[]) =>
  execFileSync(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] })
    .toString()
    .trim();

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  return exited;
}

/** CPU seconds (user + system) of a process so far, from /proc/PID/stat. */
export async function processCpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Peak RSS (VmHWM) of a process, bytes. */
export async function processPeakRss(pid: number): Promise<number> {
  const m = /VmHWM:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

export async function setupRauc(dir: string, imagePath: string, diskPath: string, slot: { byteOffset: number; byteLength: number }): Promise<RaucPeer> {
  await mkdir(join(dir, 'bundle'), { recursive: true });
  await mkdir(join(dir, 'data'), { recursive: true });
  await mkdir(join(dir, 'mnt'), { recursive: true });
  run(dir, 'openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-subj',
    '/CN=bench-ca',
    '-days',
    '30',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  run(dir, 'openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'signer.key', '-out', 'signer.csr', '-subj', '/CN=bench-signer']);
  await writeFile(join(dir, 'ext.cnf'), 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=emailProtection,codeSigning\n');
  run(dir, 'openssl', [
    'x509',
    '-req',
    '-in',
    'signer.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'signer.pem',
    '-days',
    '30',
    '-extfile',
    'ext.cnf',
  ]);
  await writeFile(
    join(dir, 'bundle', 'manifest.raucm'),
    '[update]\ncompatible=bench\nversion=2.0.0\n\n[bundle]\nformat=plain\n\n[image.rootfs]\nfilename=rootfs.img\n',
  );
  execFileSync('ln', ['-f', imagePath, join(dir, 'bundle', 'rootfs.img')]);
  const bundlePath = join(dir, 'update.raucb');
  run(dir, 'rauc', ['bundle', '--cert=signer.pem', '--key=signer.key', '--mksquashfs-args=-noI -noD -noF -noX', 'bundle', bundlePath]);
  const slotDevice = run(dir, 'losetup', ['--find', '--show', '--offset', String(slot.byteOffset), '--sizelimit', String(slot.byteLength), diskPath]);
  const booted = join(dir, 'slot-a.img');
  execFileSync('truncate', ['-s', '16M', booted]);
  await writeFile(
    join(dir, 'system.conf'),
    `[system]\ncompatible=bench\nbootloader=noop\ndata-directory=${join(dir, 'data')}\n\n[keyring]\npath=${join(dir, 'ca.pem')}\n\n[slot.rootfs.0]\ndevice=${booted}\ntype=raw\nbootname=A\n\n[slot.rootfs.1]\ndevice=${slotDevice}\ntype=raw\nbootname=B\n`,
  );
  const socket = join(dir, 'bus.sock');
  await writeFile(
    join(dir, 'bus.conf'),
    `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>system</type><listen>unix:path=${socket}</listen><auth>EXTERNAL</auth>
<policy context="default"><allow user="*"/><allow own="*"/><allow send_destination="*"/><allow receive_sender="*"/></policy></busconfig>
`,
  );
  const bus = spawn('dbus-daemon', [`--config-file=${join(dir, 'bus.conf')}`, '--nofork', '--print-address'], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    bus.stdout?.once('data', () => resolve());
    bus.once('exit', (code) => reject(new Error(`dbus-daemon exited (${code})`)));
  });
  const busAddress = `unix:path=${socket}`;
  const service = spawn('rauc', ['service', `--conf=${join(dir, 'system.conf')}`, '--override-boot-slot=A', `--mount=${join(dir, 'mnt')}`], {
    env: { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: busAddress },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let serviceLog = '';
  service.stderr?.setEncoding('utf8').on('data', (d: string) => (serviceLog += d));
  for (let i = 0; !/Using central status file|Service started|rauc/.test(serviceLog); i++) {
    if (i > 100 || service.exitCode !== null) throw new Error(`rauc service did not start: ${serviceLog}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  await new Promise((r) => setTimeout(r, 300));
  return {
    bundlePath,
    busAddress,
    servicePid: service.pid as number,
    slotDevice,
    async stop() {
      await stopChild(service);
      await stopChild(bus);
      run(dir, 'losetup', ['--detach', slotDevice]);
    },
  };
}
