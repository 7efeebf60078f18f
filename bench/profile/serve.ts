// Keeps the profile benchmark's servers up for ad-hoc runs (issue 17): `update-engine serve` for the
// payload in DIR (made by bench/profile/run.ts) behind nginx; prints the origin, stops on SIGTERM/SIGINT.
// Usage: node bin/run-ts.js bench/profile/serve.ts --dir DIR [--size 1G]

import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parseSize } from '../../src/config/values.ts';
import { prepareImage } from '../apply/fixtures.ts';
import { startServe } from '../apply/serve-process.ts';
import { startNginx } from '../peers/nginx.ts';

const { values: args } = parseArgs({ options: { dir: { type: 'string' }, size: { type: 'string', default: '1G' } } });
if (!args.dir) throw new Error('--dir DIR is required');
const dir = resolve(args.dir);
const img = await prepareImage(dir, parseSize(args.size), (l) => process.stdout.write(`${l}\n`));
const serve = await startServe(resolve('bench/out/engine-build/src/cli/update-engine.js'), img.payloadPath);
const nginx = await startNginx(join(dir, 'nginx'), dir, dir, new URL(serve.updateUrl).origin);
process.stdout.write(`origin ${nginx.origin}\ndisk ${img.diskPath}\npayload ${nginx.origin}/payloads/0/${img.payloadPath.split('/').at(-1)}\n`);
const stop = async () => {
  await nginx.stop();
  await serve.close();
  process.exit(0);
};
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());
