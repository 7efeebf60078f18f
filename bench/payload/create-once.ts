// One measured createPayload in its own process: prints one JSON line {seconds, maxRssBytes, ...}, so
// that run.ts can show that creating a payload streams (its memory does not grow with the image).
// Usage: create-once.ts IMAGE OUT PRIVATE_KEY [--compression none|gzip|brotli]

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createPayload } from '../../src/payload/create.ts';
import type { Compression } from '../../src/payload/manifest.ts';

const { positionals, values } = parseArgs({ allowPositionals: true, options: { compression: { type: 'string', default: 'none' } } });
const [image, out, key] = positionals;
if (!image || !out || !key) {
  process.stderr.write('usage: create-once.ts IMAGE OUT PRIVATE_KEY [--compression C]\n');
  process.exit(2);
}
const started = performance.now();
const result = await createPayload({
  imagePath: image,
  out,
  version: '1.0.0',
  privateKeyPem: readFileSync(key, 'utf8'),
  compression: values.compression as Compression,
});
const usage = process.resourceUsage();
process.stdout.write(
  `${JSON.stringify({
    seconds: (performance.now() - started) / 1000,
    maxRssBytes: usage.maxRSS * 1024,
    cpuSeconds: (usage.userCPUTime + usage.systemCPUTime) / 1e6,
    payloadSizeBytes: result.payloadSizeBytes,
    blockSizeBytes: result.manifest.blockSize,
  })}\n`,
);
