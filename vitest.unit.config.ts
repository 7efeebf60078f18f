// `npm run test:unit`: the tests that need no root, no outside tool (etcd, sgdisk, cgpt, openssl,
// losetup, QEMU) and no network beyond 127.0.0.1, in well under a minute. A test file is left out when
// it, or a test file it imports (transitively), asks for root or a tool (requireRoot, requireTool,
// isRoot, hasTool) or runs the built commands (bin/*.js).
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { defineConfig, mergeConfig } from 'vitest/config';
import base from './vitest.config.ts';

const NEEDS_MORE = /\b(requireRoot|requireTool|isRoot|hasTool)\(|bin\/(update-engine|update_engine_client|locksmithctl)\.js/;

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return testFiles(path);
    return path.endsWith('.test.ts') ? [path] : [];
  });
}

const verdicts = new Map<string, boolean>();
function needsMore(file: string): boolean {
  const known = verdicts.get(file);
  if (known !== undefined) return known;
  verdicts.set(file, false); // import cycles
  const text = readFileSync(file, 'utf8');
  const imports = [...text.matchAll(/from '(\.[^']+\.ts)'/g)].map((m) => resolve(dirname(file), m[1] as string));
  const verdict = NEEDS_MORE.test(text) || imports.some((path) => path.includes(`${join('/', 'test', '')}`) && needsMore(path));
  verdicts.set(file, verdict);
  return verdict;
}

const heavy = testFiles('test').filter((file) => needsMore(resolve(file)));

export default mergeConfig(base, defineConfig({ test: { exclude: heavy } }));
