// One measured apply in its own process (so that its peak RSS is its own): applies a payload file into
// a region of a disk image and prints one JSON line {seconds, maxRssBytes, ...}. Driven by run.ts.
// Usage: apply-once.ts PAYLOAD DISK OFFSET LENGTH PUBKEY [--no-read-back] [--sync-every BYTES] [--in-flight BYTES]

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { FileRegionTarget } from '../../src/io/file-region-target.ts';
import { applyPayload, openFilePayload } from '../../src/payload/apply.ts';
import { keyringFromPems } from '../../src/payload/keyring.ts';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { 'no-read-back': { type: 'boolean' }, 'sync-every': { type: 'string' }, 'in-flight': { type: 'string' } },
});
const [payload, disk, offset, length, pubkey] = positionals;
if (!payload || !disk || !offset || !length || !pubkey) {
  process.stderr.write('usage: apply-once.ts PAYLOAD DISK OFFSET LENGTH PUBKEY [--no-read-back]\n');
  process.exit(2);
}

const keyring = keyringFromPems([readFileSync(pubkey, 'utf8')]);
const started = performance.now();
const cpuBefore = process.cpuUsage(); // all threads of the process (getrusage), workers included
const result = await applyPayload(openFilePayload(payload), {
  target: new FileRegionTarget(disk, Number(offset), Number(length)),
  keyring,
  expect: { appId: 'bench', allowDowngrade: true },
  readBack: !values['no-read-back'],
  ...(values['sync-every'] && { syncEveryBytes: Number(values['sync-every']) }),
  ...(values['in-flight'] && { maxInFlightBytes: Number(values['in-flight']) }),
});
const seconds = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpuBefore);
const usage = process.resourceUsage();
process.stdout.write(
  `${JSON.stringify({
    seconds,
    maxRssBytes: usage.maxRSS * 1024,
    userSeconds: cpu.user / 1e6,
    systemSeconds: cpu.system / 1e6,
    payloadSizeBytes: result.payloadSizeBytes,
    imageSha256Hex: result.imageSha256Hex,
  })}\n`,
);
