// Fuzz property of `update-engine config`: its KEY=VALUE lines (less the trailing "# source"), loaded
// back as the only file, must give the same Settings (secrets aside: they are printed masked).

import fc from 'fast-check';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { isDeepStrictEqual } from 'node:util';
import { run as configCommand } from '../../../src/cli/commands/config.ts';
import { loadSettings, systemConfigPaths } from '../../../src/config/load.ts';
import { layeredSettingsArb, writeLayers } from './config-layers.ts';
import { ensure, fuzzProperty, type FuzzProperty } from './fuzz-suite.ts';

const PLAIN = { indent: '', exportPrefix: false, spaceBeforeEq: '', spaceAfterEq: '', quote: '' as const };
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f]/;

async function runConfig(argv: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string }> {
  const stdout = new PassThrough();
  const chunks: Buffer[] = [];
  stdout.on('data', (c: Buffer) => chunks.push(c));
  const code = await configCommand(argv, { stdout, stderr: new PassThrough().resume(), env, signal: new AbortController().signal });
  stdout.end();
  return { code, stdout: Buffer.concat(chunks).toString('utf8') };
}

/** The object without its undefined fields ("not set" either way). */
function definedOnly<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** `fresh` makes a new empty directory for one run. */
export function configOutputProperty(fresh: () => Promise<string>): FuzzProperty {
  return fuzzProperty(
    'update.conf',
    '`update-engine config` lines (source comments cut), loaded back as the only file, give the same Settings',
    40,
    fc.asyncProperty(layeredSettingsArb, async (plan) => {
      // Control characters are printed JSON-escaped for the terminal's sake, so they cannot come back.
      fc.pre(plan.placements.every((p) => !CONTROL.test(p.setting.text)));
      const dir = await fresh();
      try {
        const { configFiles, env } = await writeLayers(dir, plan);
        const before = await loadSettings({ paths: systemConfigPaths(dir), configFiles, env });
        const printed = await runConfig(['--sysroot', dir, ...configFiles.flatMap((f) => ['--config', f])], env);
        ensure(printed.code === 0, `config exited ${printed.code}`);
        // Each line ends in "  # <source>"; update.conf has no trailing comments, so they are cut off here.
        const lines = printed.stdout.split('\n').map((l) => (l.includes(' # ') ? l.slice(0, l.lastIndexOf(' # ')).trimEnd() : l));
        const outFile = join(dir, 'printed.conf');
        await writeFile(outFile, lines.join('\n'));
        const after = await loadSettings({ paths: systemConfigPaths(join(dir, 'empty-root')), configFiles: [outFile], env: {} });
        const masked = definedOnly({ ...before.settings });
        if (masked.downloadPassword !== undefined) masked.downloadPassword = '********';
        if (masked.etcdPassword !== undefined) masked.etcdPassword = '********';
        ensure(isDeepStrictEqual(definedOnly(after.settings), masked), () => {
          const differing = Object.keys(masked).filter(
            (k) => !isDeepStrictEqual((after.settings as Record<string, unknown>)[k], (masked as Record<string, unknown>)[k]),
          );
          return `loading the printed settings changed ${differing.map((k) => `${k}: ${JSON.stringify((masked as Record<string, unknown>)[k])} -> ${JSON.stringify((after.settings as Record<string, unknown>)[k])}`).join(', ')}\n${printed.stdout}`;
        });
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }),
    // Found by this property: values with a double quote or a backslash were printed JSON-escaped, and a
    // blank (so unset) DOWNLOAD_PASSWORD was printed as a masked, set one.
    [
      [
        {
          placements: [
            {
              layer: 'etc',
              setting: { key: 'MACHINE_ALIAS', text: 'rack "7" \\ row', field: 'machineAlias', expected: 'rack "7" \\ row' },
              style: PLAIN,
              filler: null,
            },
          ],
          etcIsCoreos: false,
          winners: [],
        },
      ],
      [
        {
          placements: [
            { layer: 'release', setting: { key: 'DOWNLOAD_PASSWORD', text: '', field: 'downloadPassword', expected: '' }, style: PLAIN, filler: null },
          ],
          etcIsCoreos: false,
          winners: [],
        },
      ],
    ],
  );
}
