// Fuzz properties of update.conf: the KEY=VALUE parser on any text and on generated files (round
// trip), and loadSettings over random layers and environments (only ERR_CONFIG_*, no secret shown).

import fc from 'fast-check';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { parseKeyValueText } from '../../../src/config/key-value.ts';
import { loadSettings, systemConfigPaths, type LoadedSettings } from '../../../src/config/load.ts';
import { KEY_SPECS } from '../../../src/config/schema.ts';
import { confTextArb, fillerLineArb, formatEntry, hostileValueArb, keyNameArb, lineStyleArb, lineValueArb, KNOWN_KEY_NAMES } from './config-generators.ts';
import { layeredSettingsArb, writeLayers } from './config-layers.ts';
import { configOutputProperty } from './config-output-property.ts';
import { ensure, ensureEngineError, fuzzProperty, type FuzzSuite } from './fuzz-suite.ts';

const PARSER = 'update.conf';
const SECRET_MARK = 'S3CR3T-';
/** Keys that need a partner to be valid at all: the partner is set to a valid value. */
const PARTNERS: Record<string, [string, string]> = {
  LOCKSMITHD_REBOOT_WINDOW_START: ['LOCKSMITHD_REBOOT_WINDOW_LENGTH', '1h'],
  LOCKSMITHD_REBOOT_WINDOW_LENGTH: ['LOCKSMITHD_REBOOT_WINDOW_START', '04:00'],
  LOCKSMITHD_ETCD_CERTFILE: ['LOCKSMITHD_ETCD_KEYFILE', '/etc/k.pem'],
  LOCKSMITHD_ETCD_KEYFILE: ['LOCKSMITHD_ETCD_CERTFILE', '/etc/c.pem'],
};
const CONFIG_ERRORS = { codes: ['ERR_CONFIG_FILE', 'ERR_CONFIG_SYNTAX', 'ERR_CONFIG_VALUE'] as const };

/** Numbers in Settings must be usable as they are: safe, non-negative integers. */
function checkNumbers(loaded: LoadedSettings): void {
  for (const [field, value] of Object.entries(loaded.settings)) {
    if (typeof value === 'number') ensure(Number.isSafeInteger(value) && value >= 0, `setting ${field} is ${value}, not a safe non-negative integer`);
  }
  for (const w of loaded.settings.rebootWindows) ensure(Number.isSafeInteger(w.durationMs) && w.durationMs > 0, `a reboot window lasts ${w.durationMs} ms`);
}

export function createConfigFuzz(): FuzzSuite {
  let root = '';
  const fresh = async () => mkdtemp(join(root, 'run-'));

  const anyText = fuzzProperty(
    PARSER,
    'parseKeyValueText takes any text: entries have valid keys, every line is reported at most once',
    300,
    fc.property(fc.oneof(confTextArb, fc.string({ unit: 'binary', maxLength: 300 })), (text) => {
      const { entries, problems } = parseKeyValueText(text, 'fuzz.conf');
      const lineCount = text.split(/\r?\n/).length;
      const seen = new Set<number>();
      for (const item of [...entries, ...problems]) {
        ensure(Number.isInteger(item.line) && item.line >= 1 && item.line <= lineCount, `line ${item.line} of ${lineCount}`);
        ensure(!seen.has(item.line), `line ${item.line} reported twice`);
        seen.add(item.line);
      }
      for (const e of entries) ensure(/^[A-Za-z_][A-Za-z0-9_]*$/.test(e.key), `entry key "${e.key}"`);
    }),
  );

  const roundTrip = fuzzProperty(
    PARSER,
    'generated KEY=VALUE files parse back to the same entries, whatever the quoting, spacing and line ends',
    300,
    fc.property(
      fc.array(
        fc.oneof(
          fc.tuple(
            keyNameArb.filter((k) => k !== 'export'),
            lineValueArb,
            lineStyleArb,
          ),
          fillerLineArb,
        ),
        { maxLength: 15 },
      ),
      fc.constantFrom('\n', '\r\n'),
      (items, eol) => {
        const expected: Array<{ key: string; value: string; line: number }> = [];
        const lines = items.map((item, i) => {
          if (typeof item === 'string') return item;
          const [key, value, style] = item;
          expected.push({ key, value, line: i + 1 });
          return formatEntry(key, value, style);
        });
        const parsed = parseKeyValueText(lines.join(eol), 'fuzz.conf');
        ensure(parsed.problems.length === 0, () => `problems: ${JSON.stringify(parsed.problems)}`);
        ensure(JSON.stringify(parsed.entries) === JSON.stringify(expected), () => `got ${JSON.stringify(parsed.entries)}, wrote ${JSON.stringify(expected)}`);
      },
    ),
  );

  const hostileLayers = fuzzProperty(
    PARSER,
    'loadSettings over hostile files and environment: Settings with sane numbers or ERR_CONFIG_*, never a secret in a message',
    100,
    fc.asyncProperty(
      fc.record({
        release: fc.option(confTextArb),
        usrShare: fc.option(confTextArb),
        etc: fc.option(confTextArb),
        coreos: fc.option(confTextArb),
        extra: fc.array(fc.option(confTextArb), { maxLength: 2 }),
        env: fc.dictionary(
          fc.constantFrom(...KNOWN_KEY_NAMES.map((k) => `UPDATE_ENGINE_${k}`), 'LOCKSMITHD_ENDPOINT', 'LOCKSMITHD_REBOOT_WINDOW_START', 'UPDATE_ENGINE_NOPE'),
          hostileValueArb,
          { maxKeys: 4 },
        ),
        secret: fc.tuple(
          fc.constantFrom('DOWNLOAD_PASSWORD', 'LOCKSMITHD_ETCD_PASSWORD'),
          lineValueArb,
          fc.constantFrom('=', '="', "='", ' ', '\t=', ' := '),
          fc.nat(3),
        ),
      }),
      async (input) => {
        const dir = await fresh();
        try {
          const paths = systemConfigPaths(dir);
          const [secretKey, secretTail, separator, layerIndex] = input.secret;
          const secretLine = `${secretKey}${separator}${SECRET_MARK}${secretTail.replace(/[\r]/g, '')}`;
          const texts = [input.release, input.usrShare, input.etc, input.coreos].map((t, i) => (i === layerIndex ? `${t ?? ''}\n${secretLine}\n` : t));
          const files: Array<[string, string | null | undefined]> = [
            [paths.releaseFile, texts[0]],
            [paths.usrShareConf, texts[1]],
            [paths.etcConf, texts[2]],
            [paths.etcCoreosConf, texts[3]],
          ];
          const configFiles = input.extra.map((_, i) => join(dir, `extra-${i}.conf`));
          input.extra.forEach((t, i) => {
            files.push([configFiles[i] as string, t]);
          });
          for (const [file, text] of files) {
            if (text === null || text === undefined) continue;
            await mkdir(dirname(file), { recursive: true });
            await writeFile(file, text);
          }
          let loaded: LoadedSettings;
          try {
            loaded = await loadSettings({ paths, configFiles, env: input.env });
          } catch (e) {
            const err = ensureEngineError(e, CONFIG_ERRORS, 'loadSettings');
            ensure(!err.message.includes(SECRET_MARK), () => `the error shows a secret value: ${err.message}`);
            return;
          }
          checkNumbers(loaded);
          for (const w of loaded.warnings) ensure(!w.includes(SECRET_MARK), () => `a warning shows a secret value: ${w}`);
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      },
    ),
    // Found by this property: a broken DOWNLOAD_PASSWORD line was quoted, secret and all, in the syntax error.
    [[{ release: null, usrShare: null, etc: null, coreos: null, extra: [], env: {}, secret: ['DOWNLOAD_PASSWORD', 'abc', '="', 0] }]],
  );

  const oneHostileValue = fuzzProperty(
    PARSER,
    'one hostile value for one key (file or environment): a sane typed value, or ERR_CONFIG_VALUE naming the key',
    200,
    fc.asyncProperty(fc.constantFrom(...KEY_SPECS.map((s) => s.key)), hostileValueArb, fc.option(lineStyleArb), async (key, value, style) => {
      const dir = await fresh();
      try {
        const paths = systemConfigPaths(dir);
        const partner = PARTNERS[key];
        const env: NodeJS.ProcessEnv = partner ? { [`UPDATE_ENGINE_${partner[0]}`]: partner[1] } : {};
        if (style === null) env[`UPDATE_ENGINE_${key}`] = value;
        else {
          await mkdir(dirname(paths.etcConf), { recursive: true });
          await writeFile(paths.etcConf, `${formatEntry(key, value.replace(/\r/g, ''), style)}\n`);
        }
        let loaded: LoadedSettings;
        try {
          loaded = await loadSettings({ paths, env });
        } catch (e) {
          const err = ensureEngineError(e, { codes: ['ERR_CONFIG_VALUE', 'ERR_CONFIG_SYNTAX'] }, 'loadSettings');
          const named = [key, paths.etcConf, ...(partner ? [partner[0]] : [])].some((n) => err.message.includes(n));
          ensure(named, () => `the error does not name ${key}: ${err.message}`);
          return;
        }
        checkNumbers(loaded);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }),
    // Found by this property: Go durations past 2^53 ms were accepted as huge or infinite numbers.
    [
      ['LOCKSMITHD_REBOOT_WINDOW_LENGTH', '100000000000000.5h', null],
      ['HEALTH_TIMEOUT', `1${'0'.repeat(400)}h`, null],
    ],
  );

  const layered = fuzzProperty(
    PARSER,
    'valid settings spread over every layer load to the typed value of the highest layer, with its file and line',
    60,
    fc.asyncProperty(layeredSettingsArb, async (plan) => {
      const dir = await fresh();
      try {
        const { paths, configFiles, env } = await writeLayers(dir, plan);
        const loaded = await loadSettings({ paths, configFiles, env });
        checkNumbers(loaded);
        const settings = loaded.settings as Record<string, unknown>;
        for (const winner of plan.winners) {
          // `KEY=` (blank) on a key without a default means "not set".
          const unset = winner.setting.text.trim() === '' && KEY_SPECS.find((k) => k.key === winner.setting.key)?.defaultText === undefined;
          const expected = unset ? undefined : winner.setting.expected;
          ensure(
            isDeepStrictEqual(settings[winner.setting.field], expected),
            () =>
              `${winner.setting.key}: got ${JSON.stringify(settings[winner.setting.field])}, wrote ${JSON.stringify(winner.setting.text)} expecting ${JSON.stringify(expected)}`,
          );
          const source = loaded.raw.get(winner.setting.key)?.source;
          ensure(
            isDeepStrictEqual(source, winner.source),
            () => `${winner.setting.key} came from ${JSON.stringify(source)}, expected ${JSON.stringify(winner.source)}`,
          );
        }
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }),
  );

  return {
    properties: [anyText, roundTrip, hostileLayers, oneHostileValue, layered, configOutputProperty(fresh)],
    async setUp() {
      root = await mkdtemp(join(tmpdir(), 'ue-fuzz-config-'));
    },
    async tearDown() {
      if (root) await rm(root, { recursive: true, force: true });
    },
  };
}
