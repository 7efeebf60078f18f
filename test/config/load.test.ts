import { mkdtemp, mkdir, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadSettings, systemConfigPaths, describeSource, type ConfigPaths } from '../../src/config/load.ts';
import { UpdateEngineError } from '../../src/errors.ts';
import { DEFAULT_APP_ID } from '../../src/config/schema.ts';

let root: string;
let paths: ConfigPaths;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'ue-config-'));
  paths = systemConfigPaths(root);
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function put(path: string, text: string): Promise<string> {
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, text);
  return path;
}

async function loadError(options: Parameters<typeof loadSettings>[0]): Promise<UpdateEngineError> {
  try {
    await loadSettings(options);
  } catch (e) {
    expect(e).toBeInstanceOf(UpdateEngineError);
    return e as UpdateEngineError;
  }
  throw new Error('expected loadSettings to fail');
}

describe('defaults', () => {
  it('gives every default with no files and no environment', async () => {
    const { settings, warnings } = await loadSettings({ paths, env: {} });
    expect(settings).toMatchObject({
      appId: DEFAULT_APP_ID,
      group: 'stable',
      server: 'disabled',
      serverDisabled: true,
      rebootStrategy: 'reboot',
      etcdEndpoints: ['http://127.0.0.1:2379'],
      slotAPartition: 3,
      slotBPartition: 4,
      publicKeys: '/usr/share/update-engine/keys.d',
      allowDowngrade: false,
      stateDir: '/var/lib/update-engine',
      runDir: '/run/update-engine',
      controlSocket: '/run/update-engine/control.sock',
      controlGroup: 'root',
      ioWriteBytesPerSecond: 0,
      ioReadBytesPerSecond: 0,
      delta: true,
      downloadBytesPerSecond: 0,
      rebootCommand: 'systemctl reboot',
      healthTimeoutMs: 600_000,
      lockStaleAfterMs: 0,
      fleetFailureThreshold: 1,
      lockGroup: '',
      rebootWindows: [],
    });
    expect(settings.version).toBeUndefined();
    expect(warnings.some((w) => w.startsWith('VERSION cannot be derived'))).toBe(true);
  });
});

describe('delta settings', () => {
  it('reads DELTA and IO_READ_BPS (same value syntax as IO_WRITE_BPS)', async () => {
    await put(paths.etcConf, 'DELTA=false\nIO_READ_BPS=20M\n');
    const { settings } = await loadSettings({ paths, configFiles: [], env: {} });
    expect(settings.delta).toBe(false);
    expect(settings.ioReadBytesPerSecond).toBe(20 * 1024 * 1024);
  });
});

describe('layers', () => {
  it('applies release file < /usr/share < /etc < --config in order < environment', async () => {
    await put(paths.releaseFile, 'FLATCAR_RELEASE_VERSION=3000.0.0\nFLATCAR_RELEASE_BOARD=amd64-usr\nFLATCAR_RELEASE_APPID={aaaa}\nFLATCAR_BUILD=x\n');
    await put(paths.usrShareConf, 'GROUP=alpha\nSERVER=http://a.example/\nMACHINE_ALIAS=usr\n');
    await put(paths.etcConf, 'GROUP=beta\nMACHINE_ALIAS=etc\n');
    await put(paths.etcCoreosConf, 'GROUP=never-read\n');
    const c1 = await put(join(root, 'c1.conf'), 'MACHINE_ALIAS=c1\nDOWNLOAD_BPS=1M\n');
    const c2 = await put(join(root, 'c2.conf'), 'DOWNLOAD_BPS=2M\n');
    const { settings, raw, warnings, ignored } = await loadSettings({
      paths,
      configFiles: [c1, c2],
      env: { UPDATE_ENGINE_IO_WRITE_BPS: '40M', GROUP: 'bare-names-are-ignored', VERSION: '9.9.9' },
    });
    expect(settings.version).toBe('3000.0.0');
    expect(settings.board).toBe('amd64-usr');
    // SERVER and APP_ID come only from the operator's layers: the vendor files' values are ignored, with why.
    expect(settings.appId).toBe(DEFAULT_APP_ID);
    expect(settings.group).toBe('beta');
    expect(settings.server).toBe('disabled');
    expect(ignored.map((i) => [i.key, i.value, describeSource(i.source)])).toEqual([
      ['APP_ID', '{aaaa}', `${paths.releaseFile}:3`],
      ['SERVER', 'http://a.example/', `${paths.usrShareConf}:2`],
    ]);
    expect(ignored[1]?.why).toMatch(/set SERVER in \/etc\/flatcar\/update.conf/);
    expect(settings.machineAlias).toBe('c1');
    expect(settings.downloadBytesPerSecond).toBe(2 * 1024 * 1024);
    expect(settings.ioWriteBytesPerSecond).toBe(40 * 1024 * 1024);
    expect(describeSource(raw.get('GROUP')!.source)).toBe(`${paths.etcConf}:1`);
    expect(describeSource(raw.get('VERSION')!.source)).toBe(`${paths.releaseFile}:1`);
    expect(describeSource(raw.get('DOWNLOAD_BPS')!.source)).toBe(`${c2}:1`);
    expect(describeSource(raw.get('IO_WRITE_BPS')!.source)).toBe('environment UPDATE_ENGINE_IO_WRITE_BPS');
    // unknown keys in the release file are silent (it shares the namespace)
    expect(warnings.filter((w) => w.includes('FLATCAR_BUILD'))).toEqual([]);
  });

  it('a stock Flatcar host: vendor SERVER and APP_ID ignored, VERSION/BOARD/GROUP kept; the operator sets SERVER and APP_ID', async () => {
    await put(
      paths.releaseFile,
      'FLATCAR_RELEASE_VERSION=3975.2.1\nFLATCAR_RELEASE_BOARD=amd64-usr\nFLATCAR_RELEASE_APPID={e96281a6-d1af-4bde-9a0a-97b76e56dc57}\n',
    );
    await put(paths.usrShareConf, 'SERVER=https://public.update.flatcar-linux.net/v1/update/\nGROUP=stable\n');
    const stock = await loadSettings({ paths, env: {} });
    expect(stock.settings).toMatchObject({ version: '3975.2.1', board: 'amd64-usr', group: 'stable', server: 'disabled', appId: DEFAULT_APP_ID });
    expect(stock.ignored.map((i) => i.key)).toEqual(['APP_ID', 'SERVER']);
    await put(
      paths.etcConf,
      'SERVER="https://nebraska.example/v1/update/"\nFLATCAR_RELEASE_APPID={1111}\nFLATCAR_RELEASE_VERSION=3975.2.2\nFLATCAR_RELEASE_BOARD=arm64-usr\n',
    );
    const operated = await loadSettings({ paths, env: {} });
    expect(operated.settings).toMatchObject({ server: 'https://nebraska.example/v1/update/', appId: '{1111}', version: '3975.2.2', board: 'arm64-usr' });
  });

  it('FLATCAR_RELEASE_APPID in /usr/share/flatcar/update.conf is ignored (an operator file only), VERSION and BOARD there override the release file', async () => {
    await put(paths.releaseFile, 'FLATCAR_RELEASE_VERSION=1.0.0\n');
    await put(paths.usrShareConf, 'FLATCAR_RELEASE_APPID={2222}\nFLATCAR_RELEASE_VERSION=1.0.1\nFLATCAR_RELEASE_BOARD=amd64-usr\n');
    const { settings, ignored } = await loadSettings({ paths, env: { UPDATE_ENGINE_APP_ID: '{3333}' } });
    expect(settings).toMatchObject({ version: '1.0.1', board: 'amd64-usr', appId: '{3333}' });
    expect(ignored).toEqual([expect.objectContaining({ key: 'APP_ID', value: '{2222}' })]);
  });

  it('reads /etc/coreos/update.conf when /etc/flatcar/update.conf is missing', async () => {
    await put(paths.etcCoreosConf, 'GROUP=coreos\n');
    expect((await loadSettings({ paths, env: {} })).settings.group).toBe('coreos');
  });

  it('derives VERSION from os-release when the release file has none', async () => {
    await put(paths.osRelease, 'NAME="Debian"\nVERSION_ID="12"\n');
    const { settings, raw } = await loadSettings({ paths, env: {} });
    expect(settings.version).toBe('12');
    expect(describeSource(raw.get('VERSION')!.source)).toBe(`derived from VERSION_ID in ${paths.osRelease}`);
  });

  it('warns, without failing, when os-release VERSION_ID is not semver-like', async () => {
    await put(paths.osRelease, 'VERSION_ID=rolling\n');
    const { settings, warnings } = await loadSettings({ paths, env: {} });
    expect(settings.version).toBeUndefined();
    expect(warnings.join('\n')).toMatch(/VERSION_ID="rolling".*not semver-like/);
  });

  it('reads LOCKSMITHD_* from the environment under their own names; UPDATE_ENGINE_ wins', async () => {
    const { settings, raw } = await loadSettings({
      paths,
      env: {
        LOCKSMITHD_ENDPOINT: 'http://10.0.0.9:2379',
        LOCKSMITHD_GROUP: 'web',
        UPDATE_ENGINE_LOCKSMITHD_GROUP: 'db',
      },
    });
    expect(settings.etcdEndpoints).toEqual(['http://10.0.0.9:2379']);
    expect(settings.lockGroup).toBe('db');
    expect(describeSource(raw.get('LOCKSMITHD_GROUP')!.source)).toBe('environment UPDATE_ENGINE_LOCKSMITHD_GROUP');
  });

  it('combines the locksmith window with REBOOT_WINDOWS; REBOOT_WINDOW_* are aliases', async () => {
    const f = await put(
      join(root, 'w.conf'),
      'REBOOT_WINDOW_START=Sun 03:00\nREBOOT_WINDOW_LENGTH=2h\nREBOOT_WINDOWS=Mon-Fri 01:00 30m\nREBOOT_TIMEZONE=America/New_York\n',
    );
    const { settings } = await loadSettings({ paths, configFiles: [f], env: {} });
    expect(settings.rebootWindows.map((w) => [w.days, w.startMinute, w.durationMs])).toEqual([
      [[0], 180, 7_200_000],
      [[1, 2, 3, 4, 5], 60, 1_800_000],
    ]);
    expect(settings.rebootTimeZone).toBe('America/New_York');
  });

  it('warns about unknown keys and duplicates, naming file:line', async () => {
    const f = await put(join(root, 'u.conf'), 'FOO=1\nGROUP=a\nGROUP=b\n');
    const { settings, warnings } = await loadSettings({ paths, configFiles: [f], env: { UPDATE_ENGINE_NOPE: 'x' } });
    expect(settings.group).toBe('b');
    expect(warnings).toContain(`${f}:1: unknown key FOO (ignored)`);
    expect(warnings).toContain(`${f}:3: GROUP was already set on line 2; the later value wins`);
    expect(warnings).toContain('environment UPDATE_ENGINE_NOPE: unknown key NOPE (ignored)');
  });
});

describe('bad input: one clear error naming file:line, key, value and expectation', () => {
  const cases: Array<[string, string, RegExp, string]> = [
    ['a size', 'IO_WRITE_BPS=40X', /:1: IO_WRITE_BPS="40X": expected a size in bytes/, 'ERR_CONFIG_VALUE'],
    ['a duration', 'HEALTH_TIMEOUT=10 minutes', /:1: HEALTH_TIMEOUT="10 minutes": expected a duration in Go syntax/, 'ERR_CONFIG_VALUE'],
    ['a version', 'VERSION=v1.2', /:1: VERSION="v1.2": expected a semver-like version/, 'ERR_CONFIG_VALUE'],
    [
      'a strategy',
      'REBOOT_STRATEGY=sometimes',
      /:1: REBOOT_STRATEGY="sometimes": expected one of reboot, etcd-lock, best-effort, off, fleet-lock/,
      'ERR_CONFIG_VALUE',
    ],
    [
      'a window start',
      'LOCKSMITHD_REBOOT_WINDOW_START=Thu 4pm\nLOCKSMITHD_REBOOT_WINDOW_LENGTH=1h',
      /:1: LOCKSMITHD_REBOOT_WINDOW_START="Thu 4pm": expected a time HH:MM/,
      'ERR_CONFIG_VALUE',
    ],
    [
      'a window start without length',
      'LOCKSMITHD_REBOOT_WINDOW_START=Thu 04:00',
      /:1: LOCKSMITHD_REBOOT_WINDOW_START="Thu 04:00": a reboot window needs both a start and a length, as in locksmith: LOCKSMITHD_REBOOT_WINDOW_LENGTH is not set/,
      'ERR_CONFIG_VALUE',
    ],
    [
      'a window length without start',
      '\nLOCKSMITHD_REBOOT_WINDOW_LENGTH=1h',
      /:2: LOCKSMITHD_REBOOT_WINDOW_LENGTH="1h": .*LOCKSMITHD_REBOOT_WINDOW_START is not set/,
      'ERR_CONFIG_VALUE',
    ],
    ['a time zone', 'REBOOT_TIMEZONE=Berlin/Europe', /REBOOT_TIMEZONE="Berlin\/Europe": expected an IANA time zone/, 'ERR_CONFIG_VALUE'],
    ['a server URL', 'SERVER=update.example.net', /SERVER="update.example.net": expected an http:\/\/ or https:\/\/ URL/, 'ERR_CONFIG_VALUE'],
    ['an endpoint list', 'LOCKSMITHD_ENDPOINT=http://ok:2379,not a url', /LOCKSMITHD_ENDPOINT=.*"not a url" is not a URL/, 'ERR_CONFIG_VALUE'],
    ['a partition', 'SLOT_A_PARTITION=three', /SLOT_A_PARTITION="three": expected a partition number/, 'ERR_CONFIG_VALUE'],
    ['equal slots', 'SLOT_A_PARTITION=4', /SLOT_B_PARTITION.*different partitions|SLOT_B_PARTITION: slot A and slot B/, 'ERR_CONFIG_VALUE'],
    ['a boolean', 'ALLOW_DOWNGRADE=maybe', /ALLOW_DOWNGRADE="maybe": expected true or false/, 'ERR_CONFIG_VALUE'],
    ['a cron expression', 'CHECK_SCHEDULE=every hour', /CHECK_SCHEDULE="every hour": expected a cron expression/, 'ERR_CONFIG_VALUE'],
    [
      'a cron expression that can match',
      'CHECK_SCHEDULE=0 0 30 2 *',
      /CHECK_SCHEDULE="0 0 30 2 \*": expected a cron expression that matches some time/,
      'ERR_CONFIG_VALUE',
    ],
    [
      'fleet-lock without URL',
      'REBOOT_STRATEGY=fleet-lock',
      /REBOOT_STRATEGY="fleet-lock": REBOOT_STRATEGY=fleet-lock needs FLEET_LOCK_URL/,
      'ERR_CONFIG_VALUE',
    ],
    [
      'a client cert without key',
      'LOCKSMITHD_ETCD_CERTFILE=/c.pem',
      /LOCKSMITHD_ETCD_CERTFILE="\/c.pem": .*LOCKSMITHD_ETCD_KEYFILE is not set/,
      'ERR_CONFIG_VALUE',
    ],
    ['a failure threshold of 0', 'FLEET_FAILURE_THRESHOLD=0', /:1: FLEET_FAILURE_THRESHOLD="0": expected a whole number of at least 1/, 'ERR_CONFIG_VALUE'],
    [
      'a failure threshold that is no number',
      'FLEET_FAILURE_THRESHOLD=two',
      /FLEET_FAILURE_THRESHOLD="two": expected a whole number of at least 1/,
      'ERR_CONFIG_VALUE',
    ],
    ['a metrics address', 'METRICS_LISTEN=0.0.0.0', /METRICS_LISTEN="0.0.0.0": expected HOST:PORT/, 'ERR_CONFIG_VALUE'],
    ['an unterminated quote', 'GROUP="stable', /:1: unterminated double quote/, 'ERR_CONFIG_SYNTAX'],
  ];
  it.each(cases)('%s', async (_name, text, message, code) => {
    const f = await put(join(root, 'bad.conf'), `${text}\n`);
    const e = await loadError({ paths, configFiles: [f], env: {} });
    expect(e.code).toBe(code);
    expect(e.message).toMatch(message);
    expect(e.message.startsWith(f) || code === 'ERR_CONFIG_VALUE').toBe(true);
  });

  it('names the environment variable for a bad environment value', async () => {
    const e = await loadError({ paths, env: { UPDATE_ENGINE_DOWNLOAD_BPS: 'fast' } });
    expect(e.message).toMatch(/^environment UPDATE_ENGINE_DOWNLOAD_BPS: DOWNLOAD_BPS="fast": expected a size/);
  });

  it('masks secrets in errors', async () => {
    const f = await put(join(root, 's.conf'), 'LOCKSMITHD_ETCD_PASSWORD=hunter2\nLOCKSMITHD_ETCD_KEYFILE=/k.pem\n');
    const e = await loadError({ paths, configFiles: [f], env: {} });
    expect(e.message).not.toContain('hunter2');
  });

  it('fails on a missing --config file', async () => {
    const e = await loadError({ paths, configFiles: [join(root, 'nope.conf')], env: {} });
    expect(e.code).toBe('ERR_CONFIG_FILE');
    expect(e.message).toBe(`Cannot read settings file "${join(root, 'nope.conf')}": no such file`);
  });

  it('fails on a --config that is a directory', async () => {
    const e = await loadError({ paths, configFiles: [root], env: {} });
    expect(e.message).toContain('it is a directory');
  });

  it('reports every syntax problem, each with its line', async () => {
    const f = await put(join(root, 'm.conf'), 'A B\nGROUP=x\n=y\nC D\n=z\n');
    const e = await loadError({ paths, configFiles: [f], env: {} });
    expect(e.message.split('\n')).toEqual([
      `${f}:3: invalid key "" (letters, digits and _ only): "=y"`,
      `${f}:5: invalid key "" (letters, digits and _ only): "=z"`,
    ]);
  });

  it('a line without "=" is skipped with a warning naming file:line, as update_engine skips it', async () => {
    const f = await put(join(root, 'n.conf'), 'GROUP stable\nGROUP=beta\n');
    const { settings, warnings } = await loadSettings({ paths, configFiles: [f], env: {} });
    expect(settings.group).toBe('beta');
    expect(warnings).toContain(`${f}:1: skipped, no "=" in "GROUP stable"`);
  });
});

describe('empty values', () => {
  it('an empty value of a key without a default means "not set"; of a key with one, it is validated', async () => {
    const f = await put(join(root, 'e.conf'), 'HEALTH_CHECK=\nBOARD=""\nMACHINE_ALIAS=\n');
    const { settings } = await loadSettings({ paths, configFiles: [f], env: {} });
    expect(settings.healthCheck).toBeUndefined();
    expect(settings.board).toBeUndefined();
    expect(settings.machineAlias).toBe('');
    const g = await put(join(root, 'g.conf'), 'GROUP=\n');
    const e = await loadError({ paths, configFiles: [g], env: {} });
    expect(e.message).toMatch(/GROUP="": expected a group name/);
  });
});
