// Generators for update.conf fuzzing: KEY=VALUE lines written in every style the format allows,
// valid values of the typed keys with the Settings value each must give, and hostile values.

import fc from 'fast-check';
import { KEY_SPECS, type SettingsField } from '../../../src/config/schema.ts';

/** How one entry is written: indentation, `export `, spaces around `=`, quotes. */
export interface LineStyle {
  indent: string;
  exportPrefix: boolean;
  spaceBeforeEq: string;
  spaceAfterEq: string;
  quote: '' | '"' | "'";
}

export const lineStyleArb: fc.Arbitrary<LineStyle> = fc.record({
  indent: fc.constantFrom('', ' ', '\t', '  '),
  exportPrefix: fc.boolean(),
  spaceBeforeEq: fc.constantFrom('', ' ', '\t'),
  spaceAfterEq: fc.constantFrom('', ' '),
  quote: fc.constantFrom('' as const, '"' as const, "'" as const),
});

/** A value that a KEY=VALUE line can carry: anything without a line feed. */
export const lineValueArb: fc.Arbitrary<string> = fc
  .string({
    unit: fc.oneof(fc.constantFrom(' ', '"', "'", '=', '#', '\t', '\r', '\\', '$'), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 })),
    maxLength: 24,
  })
  .map((s) => s.replace(/\n/g, ''));

export const keyNameArb: fc.Arbitrary<string> = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,20}$/);

/** Writes KEY=VALUE so that parseKeyValueText gives `value` back: quoted whenever a bare value would change. */
export function formatEntry(key: string, value: string, style: LineStyle): string {
  const bareChanges = value !== value.trim() || value.startsWith('"') || value.startsWith("'");
  const quote = style.quote !== '' ? style.quote : bareChanges ? '"' : '';
  return `${style.indent}${style.exportPrefix ? 'export ' : ''}${key}${style.spaceBeforeEq}=${style.spaceAfterEq}${quote}${value}${quote}`;
}

/** Filler lines that carry no entry: blank, white space, comments. */
export const fillerLineArb: fc.Arbitrary<string> = fc.oneof(
  fc.constant(''),
  fc.constantFrom(' ', '\t', '   '),
  lineValueArb.map((t) => `# ${t}`),
  lineValueArb.map((t) => `  #${t}`),
);

/** One typed setting written as text, with the field it fills and the value loadSettings must give. */
export interface ValidSetting {
  key: string;
  text: string;
  field: SettingsField;
  expected: unknown;
}

const setting = (key: string, field: SettingsField, arb: fc.Arbitrary<[string, unknown]>): fc.Arbitrary<ValidSetting> =>
  arb.map(([text, expected]) => ({ key, text, field, expected }));

const exact = (key: string, field: SettingsField) =>
  setting(
    key,
    field,
    lineValueArb.map((v) => [v, v] as [string, unknown]),
  );
const name = fc.stringMatching(/^[a-z][a-z0-9-]{0,15}$/);
const path = fc.array(fc.stringMatching(/^[a-z0-9._-]{1,8}$/), { minLength: 1, maxLength: 4 }).map((p) => `/${p.join('/')}`);
const sizeArb = fc
  .tuple(fc.integer({ min: 0, max: 1 << 20 }), fc.constantFrom('', 'K', 'M', 'G', 'k', 'm'), fc.constantFrom('', 'B', 'iB'))
  .map(([n, unit, suffix]): [string, unknown] => {
    const power = unit === '' ? 0 : 'KMG'.indexOf(unit.toUpperCase()) + 1;
    return [`${n}${unit}${unit === '' ? '' : suffix}`, n * 1024 ** power];
  });
const durationArb = fc
  .tuple(fc.integer({ min: 0, max: 200 }), fc.integer({ min: 0, max: 200 }), fc.integer({ min: 0, max: 200 }))
  .filter(([h, m, s]) => h + m + s > 0)
  .map(([h, m, s]): [string, unknown] => [`${h ? `${h}h` : ''}${m ? `${m}m` : ''}${s ? `${s}s` : ''}`, ((h * 60 + m) * 60 + s) * 1000]);
export const versionArb = fc
  .tuple(fc.nat(99999), fc.option(fc.nat(999)), fc.option(fc.nat(999)), fc.option(fc.stringMatching(/^[0-9A-Za-z-]{1,6}$/)))
  .map(([a, b, c, pre]): [string, unknown] => {
    const text = `${a}${b !== null ? `.${b}${c !== null ? `.${c}` : ''}` : ''}${pre !== null ? `-${pre}` : ''}`;
    return [text, text];
  });
const booleanArb = fc
  .tuple(fc.constantFrom('true', 'yes', '1', 'on', 'false', 'no', '0', 'off'), fc.boolean())
  .map(([t, upper]): [string, unknown] => [upper ? t.toUpperCase() : t, ['true', 'yes', '1', 'on'].includes(t)]);
const serverArb = fc.oneof(
  fc.constant<[string, unknown]>(['disabled', 'disabled']),
  fc.webUrl({ validSchemes: ['http', 'https'] }).map((u): [string, unknown] => [u, new URL(u).toString()]),
);
const endpointsArb = fc
  .array(fc.tuple(fc.constantFrom('http', 'https'), fc.nat(255), fc.integer({ min: 1, max: 65535 })), { minLength: 1, maxLength: 3 })
  .map((list): [string, unknown] => {
    const urls = list.map(([s, n, port]) => `${s}://10.0.0.${n}:${port}`);
    return [urls.join(','), urls];
  });

/** Every key a valid-settings generator may set (the two slot numbers are set together, see validSettingsArb). */
export const VALID_SETTING_ARBS: fc.Arbitrary<ValidSetting>[] = [
  setting(
    'GROUP',
    'group',
    name.map((t) => [t, t]),
  ),
  setting('SERVER', 'server', serverArb),
  setting(
    'REBOOT_STRATEGY',
    'rebootStrategy',
    fc.constantFrom('reboot', 'etcd-lock', 'best-effort', 'off').map((t) => [t, t]),
  ),
  setting('IO_WRITE_BPS', 'ioWriteBytesPerSecond', sizeArb),
  setting('DOWNLOAD_BPS', 'downloadBytesPerSecond', sizeArb),
  setting('HEALTH_TIMEOUT', 'healthTimeoutMs', durationArb),
  setting('LOCK_STALE_AFTER', 'lockStaleAfterMs', durationArb),
  setting('VERSION', 'version', versionArb),
  setting('ALLOW_DOWNGRADE', 'allowDowngrade', booleanArb),
  setting('LOCKSMITHD_ENDPOINT', 'etcdEndpoints', endpointsArb),
  setting(
    'REBOOT_TIMEZONE',
    'rebootTimeZone',
    fc.constantFrom('UTC', 'Europe/Berlin', 'America/New_York').map((t) => [t, t]),
  ),
  setting(
    'LOG_LEVEL',
    'logLevel',
    fc.constantFrom('trace', 'debug', 'info', 'warn', 'error').map((t) => [t, t]),
  ),
  setting(
    'STATE_DIR',
    'stateDir',
    path.map((t) => [t, t]),
  ),
  setting(
    'CONTROL_GROUP',
    'controlGroup',
    name.map((t) => [t, t]),
  ),
  setting(
    'CHECK_SCHEDULE',
    'checkSchedule',
    fc.integer({ min: 1, max: 59 }).map((n) => [`*/${n} * * * *`, `*/${n} * * * *`]),
  ),
  setting(
    'METRICS_LISTEN',
    'metricsListen',
    fc.integer({ min: 1, max: 65535 }).map((p) => [`127.0.0.1:${p}`, `127.0.0.1:${p}`]),
  ),
  exact('MACHINE_ALIAS', 'machineAlias'),
  exact('LOCKSMITHD_GROUP', 'lockGroup'),
  exact('DOWNLOAD_USER', 'downloadUser'),
  exact('DOWNLOAD_PASSWORD', 'downloadPassword'),
  exact('LOCKSMITHD_ETCD_USERNAME', 'etcdUsername'),
  exact('LOCKSMITHD_ETCD_PASSWORD', 'etcdPassword'),
];

/** The slot pair: two different partition numbers, written together. */
export const slotPairArb: fc.Arbitrary<ValidSetting[]> = fc.uniqueArray(fc.integer({ min: 1, max: 128 }), { minLength: 2, maxLength: 2 }).map(([a, b]) => [
  { key: 'SLOT_A_PARTITION', text: String(a), field: 'slotAPartition', expected: a },
  { key: 'SLOT_B_PARTITION', text: String(b), field: 'slotBPartition', expected: b },
]);

/** Values meant to break a typed parser: huge numbers, units alone, signs, exponents, control characters. */
export const hostileValueArb: fc.Arbitrary<string> = fc.oneof(
  lineValueArb,
  fc.string({ unit: 'binary', maxLength: 40 }).map((s) => s.replace(/\n/g, ' ')),
  fc
    .tuple(
      fc.oneof(fc.stringMatching(/^[0-9]{1,6}$/), fc.stringMatching(/^[1-9][0-9]{14,40}$/)),
      fc.constantFrom('', 'h', 'm', 's', 'ms', 'ns', 'K', 'M', 'G', 'T', 'h30m', '.5h', 'e9'),
    )
    .map(([n, u]) => `${n}${u}`),
  fc.constantFrom('-1', '+1', '1e3', '0x10', 'NaN', 'Infinity', '1.5.2', '..', 'h', '0h', '00:00', 'Mon-Sun 23:59 168h', '*/0 * * * *', '[::1]:99999'),
);

/** Every known key name, with its aliases and the release file's names. */
export const KNOWN_KEY_NAMES: string[] = [
  ...KEY_SPECS.flatMap((s) => [s.key, ...(s.aliases ?? [])]),
  'FLATCAR_RELEASE_VERSION',
  'FLATCAR_RELEASE_BOARD',
  'FLATCAR_RELEASE_APPID',
];

/** Text in the shape of update.conf, with known keys more often than not, and broken lines now and then. */
export const confTextArb: fc.Arbitrary<string> = fc
  .tuple(
    fc.array(
      fc.oneof(
        { weight: 5, arbitrary: fc.tuple(fc.constantFrom(...KNOWN_KEY_NAMES), hostileValueArb, lineStyleArb).map(([k, v, s]) => formatEntry(k, v, s)) },
        { weight: 1, arbitrary: fc.tuple(keyNameArb, lineValueArb, lineStyleArb).map(([k, v, s]) => formatEntry(k, v, s)) },
        { weight: 1, arbitrary: fillerLineArb },
        {
          weight: 1,
          arbitrary: fc.tuple(fc.constantFrom(...KNOWN_KEY_NAMES), lineValueArb, fc.constantFrom('="', "='", ' ', ':')).map(([k, v, sep]) => `${k}${sep}${v}`),
        },
        { weight: 1, arbitrary: lineValueArb },
      ),
      { maxLength: 12 },
    ),
    fc.constantFrom('\n', '\r\n'),
  )
  .map(([lines, eol]) => lines.join(eol));
