// swupdate as a peer: a .swu with a CMS-signed sw-description (raw handler, the slot's offset, the
// image's SHA-256, checked while writing) built for the same image, installed streaming from the
// static server with `swupdate -d "-u URL"`. swupdate does not fsync: its run ends with `sync FILE`.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface SwuBundle {
  swuPath: string;
  certPath: string;
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 4 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Writes sw-description for `imagePath` into `device` at `offsetBytes`, signs it, and packs the .swu (cpio crc). */
export async function buildSwu(dir: string, imagePath: string, device: string, offsetBytes: number): Promise<SwuBundle> {
  const sha = await sha256File(imagePath);
  const description = `software =
{
  version = "2.0.0";
  hardware-compatibility: [ "1.0" ];
  images: (
    {
      filename = "rootfs.img";
      device = "${device}";
      type = "raw";
      offset = "${offsetBytes}";
      sha256 = "${sha}";
    }
  );
}
`;
  await writeFile(join(dir, 'sw-description'), description);
  const run = (cmd: string, args: string[], opts: { input?: string } = {}) => execFileSync(cmd, args, { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'], ...opts });
  run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'swu-key.pem',
    '-out',
    'swu-cert.pem',
    '-subj',
    '/CN=bench',
    '-days',
    '30',
    '-addext',
    'extendedKeyUsage=emailProtection',
  ]);
  run('openssl', [
    'cms',
    '-sign',
    '-in',
    'sw-description',
    '-out',
    'sw-description.sig',
    '-signer',
    'swu-cert.pem',
    '-inkey',
    'swu-key.pem',
    '-outform',
    'DER',
    '-nosmimecap',
    '-binary',
  ]);
  execFileSync('ln', ['-sf', imagePath, join(dir, 'rootfs.img')]);
  // -L packs the image the link points to; the archive goes straight to the file, never through memory.
  run('bash', ['-o', 'pipefail', '-c', "printf 'sw-description\\nsw-description.sig\\nrootfs.img\\n' | cpio -o -L -H crc --quiet > update.swu"]);
  return { swuPath: join(dir, 'update.swu'), certPath: join(dir, 'swu-cert.pem') };
}
