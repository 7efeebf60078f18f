// The Settings schema: every update.conf key, its field name, type, default and meaning, validated
// by one zod object. Raw input is KEY -> string; output is the typed Settings value.

import { z } from 'zod';
import { validate as validateCron } from 'node-cron';
import {
  ValueError,
  parseBoolean,
  parseDuration,
  parseLocksmithWindow,
  parseRebootWindows,
  parseSize,
  parseTimeZone,
  parseVersion,
  type RebootWindow,
} from './values.ts';

/** This project's own Omaha app id (used when neither APP_ID nor the release file sets one). */
export const DEFAULT_APP_ID = '{4d3c2f2a-9b8e-4a1c-8f5e-2b7d6c1a9e30}';

export const REBOOT_STRATEGIES = ['reboot', 'etcd-lock', 'best-effort', 'off', 'fleet-lock'] as const;

/** Wraps a pure parser so that its ValueError becomes a zod issue with the expectation as message. */
function parsed<T>(parse: (text: string) => T) {
  return z.string().transform((text, ctx): T => {
    try {
      return parse(text);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: e instanceof ValueError ? e.message : String(e) });
      return z.NEVER;
    }
  });
}

const size = parsed(parseSize);
const duration = parsed(parseDuration);
const bool = parsed(parseBoolean);
const version = parsed((t) => parseVersion(t).text);
const partition = parsed((t) => {
  if (!/^\d+$/.test(t.trim())) throw new ValueError('expected a partition number, e.g. 3');
  const n = Number(t);
  if (n < 1 || n > 128) throw new ValueError('expected a partition number from 1 to 128');
  return n;
});
const nonEmpty = (what: string) => z.string().trim().min(1, `expected ${what}`);
const url = (what: string) =>
  parsed((t) => {
    let u: URL;
    try {
      u = new URL(t.trim());
    } catch {
      throw new ValueError(`expected ${what}, e.g. https://update.example.net/v1/update/`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ValueError(`expected an http:// or https:// URL for ${what}`);
    return u.toString();
  });
const urlList = parsed((t) => {
  const list = t.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (list.length === 0) throw new ValueError('expected a comma-separated list of URLs, e.g. http://127.0.0.1:2379');
  for (const item of list) {
    let u: URL;
    try {
      u = new URL(item);
    } catch {
      throw new ValueError(`"${item}" is not a URL; expected e.g. http://10.0.0.1:2379,https://10.0.0.2:2379`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ValueError(`"${item}" must use http:// or https://`);
  }
  return list;
});
const serverUrl = parsed((t) => {
  const v = t.trim();
  if (v === 'disabled') return 'disabled';
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new ValueError('expected an http:// or https:// URL of the Omaha endpoint, or "disabled"');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ValueError('expected an http:// or https:// URL, or "disabled"');
  return u.toString();
});
const cron = parsed((t) => {
  if (!validateCron(t.trim())) throw new ValueError('expected a cron expression, e.g. "*/30 * * * *"');
  return t.trim();
});
const command = parsed((t) => {
  if (t.trim() === '') throw new ValueError('expected a command, e.g. "systemctl reboot"');
  return t.trim();
});
const listen = parsed((t) => {
  const v = t.trim();
  if (v.startsWith('/')) return v;
  const m = /^(\[[0-9a-fA-F:]+\]|[0-9.]+|localhost):(\d{1,5})$/.exec(v);
  if (!m || Number(m[2]) > 65535) throw new ValueError('expected HOST:PORT (e.g. 127.0.0.1:9105) or an absolute Unix socket path');
  return v;
});

/** The validated settings. Field names are the keys in camelCase with their unit. */
export const settingsSchema = z
  .object({
    /** Omaha appid (APP_ID; release file FLATCAR_RELEASE_APPID). */
    appId: nonEmpty('an Omaha app id').default(DEFAULT_APP_ID),
    /** Omaha board, matched against a payload's board (BOARD; release file FLATCAR_RELEASE_BOARD). */
    board: nonEmpty('a board name').optional(),
    /** Running OS version (VERSION; release file, else VERSION_ID of os-release). Undefined when unknown. */
    version: version.optional(),
    /** Update group, sent as Omaha track (GROUP). */
    group: nonEmpty('a group name').default('stable'),
    /** Omaha server URL, or "disabled" for no update checks (SERVER). */
    server: serverUrl.default('disabled'),
    /** Sent as Omaha machinealias (MACHINE_ALIAS). */
    machineAlias: z.string().default(''),
    /** Disk or image file holding the slots (DISK); undefined: the disk behind the booted /usr. */
    disk: nonEmpty('a disk path').optional(),
    /** Partition number booted from (BOOTED_PARTITION); undefined: detected. */
    bootedPartition: partition.optional(),
    /** Partition number of slot A (SLOT_A_PARTITION). */
    slotAPartition: partition.default(3),
    /** Partition number of slot B (SLOT_B_PARTITION). */
    slotBPartition: partition.default(4),
    /** PEM public key file or directory of *.pem trusted for payload signatures (PUBLIC_KEYS). */
    publicKeys: nonEmpty('a file or directory').default('/usr/share/update-engine/keys.d'),
    /** Accept a payload not newer than the running version (ALLOW_DOWNGRADE); logged loudly. */
    allowDowngrade: bool.default(false),
    /** Extra CA bundle for HTTPS to the server and payload URLs (SERVER_CA_FILE). */
    serverCaFile: nonEmpty('a file').optional(),
    /** HTTP basic-auth user for payload URLs, HTTPS only (DOWNLOAD_USER). */
    downloadUser: z.string().optional(),
    /** HTTP basic-auth password for payload URLs (DOWNLOAD_PASSWORD); never logged. */
    downloadPassword: z.string().optional(),
    /** Persisted state directory (STATE_DIR). */
    stateDir: nonEmpty('a directory').default('/var/lib/update-engine'),
    /** Volatile state directory that a reboot clears (RUN_DIR). */
    runDir: nonEmpty('a directory').default('/run/update-engine'),
    /** The daemon's control socket (CONTROL_SOCKET). */
    controlSocket: nonEmpty('a socket path').default('/run/update-engine/control.sock'),
    /** Group allowed to use the control socket (CONTROL_GROUP). */
    controlGroup: nonEmpty('a group name').default('root'),
    /** Write limit on the passive slot in bytes per second, 0 = none (IO_WRITE_BPS). */
    ioWriteBytesPerSecond: size.default(0),
    /** Download limit in bytes per second, 0 = none (DOWNLOAD_BPS). */
    downloadBytesPerSecond: size.default(0),
    /** Reboot strategy (REBOOT_STRATEGY). */
    rebootStrategy: z.enum(REBOOT_STRATEGIES, { error: `expected one of ${REBOOT_STRATEGIES.join(', ')}` }).default('reboot'),
    /** locksmith's window start `[Day ]HH:MM` (LOCKSMITHD_REBOOT_WINDOW_START or REBOOT_WINDOW_START). */
    rebootWindowStart: z.string().optional(),
    /** locksmith's window length in ms (LOCKSMITHD_REBOOT_WINDOW_LENGTH or REBOOT_WINDOW_LENGTH). */
    rebootWindowLengthMs: duration.optional(),
    /** Further windows (REBOOT_WINDOWS). */
    rebootWindowsExtra: parsed(parseRebootWindows).optional(),
    /** IANA time zone of every window (REBOOT_TIMEZONE); undefined: local time. */
    rebootTimeZone: parsed(parseTimeZone).optional(),
    /** etcd endpoints for the reboot lock (LOCKSMITHD_ENDPOINT). */
    etcdEndpoints: urlList.default(['http://127.0.0.1:2379']),
    /** CA file for etcd TLS (LOCKSMITHD_ETCD_CAFILE). */
    etcdCaFile: nonEmpty('a file').optional(),
    /** Client certificate for etcd TLS (LOCKSMITHD_ETCD_CERTFILE). */
    etcdCertFile: nonEmpty('a file').optional(),
    /** Client key for etcd TLS (LOCKSMITHD_ETCD_KEYFILE). */
    etcdKeyFile: nonEmpty('a file').optional(),
    /** etcd user (LOCKSMITHD_ETCD_USERNAME). */
    etcdUsername: z.string().optional(),
    /** etcd password (LOCKSMITHD_ETCD_PASSWORD); never logged. */
    etcdPassword: z.string().optional(),
    /** Lock group; empty = the default semaphore (LOCKSMITHD_GROUP). */
    lockGroup: z.string().default(''),
    /** FleetLock server base URL (FLEET_LOCK_URL). */
    fleetLockUrl: url('a FleetLock server URL').optional(),
    /** Evict a holder whose liveness key is gone this long, in ms; 0 = never (LOCK_STALE_AFTER). */
    lockStaleAfterMs: duration.default(0),
    /** Reboot command, split on white space, run without a shell (REBOOT_COMMAND). */
    rebootCommand: command.default('systemctl reboot'),
    /** Health check command that must exit 0 before a new slot is marked good (HEALTH_CHECK). */
    healthCheck: command.optional(),
    /** How long the health check is retried, in ms (HEALTH_TIMEOUT). */
    healthTimeoutMs: duration.default(600_000),
    /** Cron expression for update checks instead of the default cadence (CHECK_SCHEDULE). */
    checkSchedule: cron.optional(),
    /** Prometheus listener, HOST:PORT or a Unix socket path (METRICS_LISTEN); undefined: off. */
    metricsListen: listen.optional(),
    /** Log level (LOG_LEVEL). */
    logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], { error: 'expected trace, debug, info, warn, error, fatal or silent' }).default('info'),
  })
  .superRefine((s, ctx) => {
    if ((s.rebootWindowStart === undefined) !== (s.rebootWindowLengthMs === undefined)) {
      const [present, missing] = s.rebootWindowStart === undefined
        ? ['rebootWindowLengthMs', 'LOCKSMITHD_REBOOT_WINDOW_START']
        : ['rebootWindowStart', 'LOCKSMITHD_REBOOT_WINDOW_LENGTH'];
      ctx.addIssue({ code: 'custom', path: [present], message: `a reboot window needs both a start and a length, as in locksmith: ${missing} is not set` });
    }
    if (s.rebootWindowStart !== undefined && s.rebootWindowLengthMs !== undefined) {
      try {
        parseLocksmithWindow(s.rebootWindowStart, s.rebootWindowLengthMs);
      } catch (e) {
        ctx.addIssue({ code: 'custom', path: ['rebootWindowStart'], message: e instanceof Error ? e.message : String(e) });
      }
    }
    if (s.rebootStrategy === 'fleet-lock' && s.fleetLockUrl === undefined) {
      ctx.addIssue({ code: 'custom', path: ['rebootStrategy'], message: 'REBOOT_STRATEGY=fleet-lock needs FLEET_LOCK_URL' });
    }
    if (s.slotAPartition === s.slotBPartition) {
      ctx.addIssue({ code: 'custom', path: ['slotBPartition'], message: 'slot A and slot B must be different partitions' });
    }
    if ((s.etcdCertFile === undefined) !== (s.etcdKeyFile === undefined)) {
      const [present, missing] = s.etcdCertFile === undefined
        ? ['etcdKeyFile', 'LOCKSMITHD_ETCD_CERTFILE']
        : ['etcdCertFile', 'LOCKSMITHD_ETCD_KEYFILE'];
      ctx.addIssue({ code: 'custom', path: [present], message: `an etcd client certificate needs both a certificate and a key: ${missing} is not set` });
    }
  })
  .transform((s) => {
    const windows: RebootWindow[] = [];
    if (s.rebootWindowStart !== undefined && s.rebootWindowLengthMs !== undefined) {
      windows.push(parseLocksmithWindow(s.rebootWindowStart, s.rebootWindowLengthMs));
    }
    windows.push(...(s.rebootWindowsExtra ?? []));
    return {
      ...s,
      /** True when SERVER=disabled: no update checks (a new slot is still marked good). */
      serverDisabled: s.server === 'disabled',
      /** All reboot windows (locksmith's and REBOOT_WINDOWS); empty = reboot any time. */
      rebootWindows: windows,
    };
  });

export type Settings = z.output<typeof settingsSchema>;
export type SettingsField = keyof z.input<typeof settingsSchema>;

/** One update.conf key: its field, whether it is a secret, its documentation and its default for display. */
export interface KeySpec {
  key: string;
  field: SettingsField;
  doc: string;
  /** The default as written in update.conf (display only; the schema holds the real default). */
  defaultText?: string;
  secret?: boolean;
  /** Other names accepted for this key (lower precedence than `key` in the same layer). */
  aliases?: string[];
}

/** Every key, in the order `config` prints them and update.conf.example documents them. */
export const KEY_SPECS: readonly KeySpec[] = [
  { key: 'SERVER', field: 'server', doc: 'Omaha update server URL; "disabled" turns update checks off', defaultText: 'disabled' },
  { key: 'GROUP', field: 'group', doc: 'Update group (Omaha track)', defaultText: 'stable' },
  { key: 'APP_ID', field: 'appId', doc: 'Omaha appid', defaultText: DEFAULT_APP_ID },
  { key: 'BOARD', field: 'board', doc: "Omaha board; a payload made for another board is refused" },
  { key: 'VERSION', field: 'version', doc: 'Running OS version (semver-like); default: FLATCAR_RELEASE_VERSION of the release file, else VERSION_ID of /etc/os-release' },
  { key: 'MACHINE_ALIAS', field: 'machineAlias', doc: 'Human-readable machine name sent to the server', defaultText: '' },
  { key: 'REBOOT_STRATEGY', field: 'rebootStrategy', doc: 'reboot, etcd-lock, best-effort, off or fleet-lock', defaultText: 'reboot' },
  { key: 'LOCKSMITHD_REBOOT_WINDOW_START', field: 'rebootWindowStart', doc: 'Reboot window start, [Day ]HH:MM (e.g. "Thu 04:00"); needs a length', aliases: ['REBOOT_WINDOW_START'] },
  { key: 'LOCKSMITHD_REBOOT_WINDOW_LENGTH', field: 'rebootWindowLengthMs', doc: 'Reboot window length, Go duration (e.g. 1h30m); needs a start', aliases: ['REBOOT_WINDOW_LENGTH'] },
  { key: 'REBOOT_WINDOWS', field: 'rebootWindowsExtra', doc: 'Several windows, ;-separated, each [Day[-Day] ]HH:MM DURATION (e.g. "Mon-Fri 02:00 1h; Sat 04:00 3h")' },
  { key: 'REBOOT_TIMEZONE', field: 'rebootTimeZone', doc: 'IANA time zone for all windows (e.g. Europe/Berlin); default: local time' },
  { key: 'LOCKSMITHD_ENDPOINT', field: 'etcdEndpoints', doc: 'etcd endpoints for the reboot lock, comma-separated', defaultText: 'http://127.0.0.1:2379' },
  { key: 'LOCKSMITHD_ETCD_CAFILE', field: 'etcdCaFile', doc: 'CA file for TLS to etcd' },
  { key: 'LOCKSMITHD_ETCD_CERTFILE', field: 'etcdCertFile', doc: 'Client certificate for TLS to etcd (with KEYFILE)' },
  { key: 'LOCKSMITHD_ETCD_KEYFILE', field: 'etcdKeyFile', doc: 'Client key for TLS to etcd (with CERTFILE)' },
  { key: 'LOCKSMITHD_ETCD_USERNAME', field: 'etcdUsername', doc: 'etcd user name' },
  { key: 'LOCKSMITHD_ETCD_PASSWORD', field: 'etcdPassword', doc: 'etcd password (never logged)', secret: true },
  { key: 'LOCKSMITHD_GROUP', field: 'lockGroup', doc: 'Reboot lock group; empty = the default semaphore', defaultText: '' },
  { key: 'FLEET_LOCK_URL', field: 'fleetLockUrl', doc: 'FleetLock server base URL, for REBOOT_STRATEGY=fleet-lock' },
  { key: 'LOCK_STALE_AFTER', field: 'lockStaleAfterMs', doc: 'Evict a lock holder whose liveness key is gone this long (Go duration); 0 = never', defaultText: '0' },
  { key: 'REBOOT_COMMAND', field: 'rebootCommand', doc: 'How to reboot: split on white space into argv, run without a shell', defaultText: 'systemctl reboot' },
  { key: 'HEALTH_CHECK', field: 'healthCheck', doc: 'Command that must exit 0 before a new slot is marked good (split on white space, no shell)' },
  { key: 'HEALTH_TIMEOUT', field: 'healthTimeoutMs', doc: 'How long the health check is retried before the slot is given up', defaultText: '10m' },
  { key: 'CHECK_SCHEDULE', field: 'checkSchedule', doc: 'Cron expression for update checks, instead of the default cadence (7 min after start, then every 45 min)' },
  { key: 'DISK', field: 'disk', doc: 'Disk or image file holding the slots; default: the disk behind the booted /usr' },
  { key: 'BOOTED_PARTITION', field: 'bootedPartition', doc: 'Partition number booted from; default: detected from /proc/cmdline and mounts' },
  { key: 'SLOT_A_PARTITION', field: 'slotAPartition', doc: 'Partition number of slot A (USR-A)', defaultText: '3' },
  { key: 'SLOT_B_PARTITION', field: 'slotBPartition', doc: 'Partition number of slot B (USR-B)', defaultText: '4' },
  { key: 'PUBLIC_KEYS', field: 'publicKeys', doc: 'PEM public key file, or a directory whose *.pem keys are trusted', defaultText: '/usr/share/update-engine/keys.d' },
  { key: 'ALLOW_DOWNGRADE', field: 'allowDowngrade', doc: 'Accept a payload not newer than VERSION (logged loudly)', defaultText: 'false' },
  { key: 'SERVER_CA_FILE', field: 'serverCaFile', doc: 'Extra CA bundle for HTTPS to the server and payload URLs; default: system CAs' },
  { key: 'DOWNLOAD_USER', field: 'downloadUser', doc: 'HTTP basic-auth user for payload URLs (HTTPS only)' },
  { key: 'DOWNLOAD_PASSWORD', field: 'downloadPassword', doc: 'HTTP basic-auth password for payload URLs (never logged)', secret: true },
  { key: 'IO_WRITE_BPS', field: 'ioWriteBytesPerSecond', doc: 'Write limit on the passive slot, bytes/s with K/M/G; 0 = none', defaultText: '0' },
  { key: 'DOWNLOAD_BPS', field: 'downloadBytesPerSecond', doc: 'Download limit, bytes/s with K/M/G; 0 = none', defaultText: '0' },
  { key: 'STATE_DIR', field: 'stateDir', doc: 'Persisted state (resume point, versions, failures, backoff)', defaultText: '/var/lib/update-engine' },
  { key: 'RUN_DIR', field: 'runDir', doc: 'Volatile state that a reboot clears (the need-reboot marker)', defaultText: '/run/update-engine' },
  { key: 'CONTROL_SOCKET', field: 'controlSocket', doc: "The daemon's control socket", defaultText: '/run/update-engine/control.sock' },
  { key: 'CONTROL_GROUP', field: 'controlGroup', doc: 'Group allowed to use the control socket', defaultText: 'root' },
  { key: 'METRICS_LISTEN', field: 'metricsListen', doc: '127.0.0.1:PORT or a Unix socket path for Prometheus metrics at /metrics; default: off' },
  { key: 'LOG_LEVEL', field: 'logLevel', doc: 'trace, debug, info, warn, error, fatal or silent', defaultText: 'info' },
];

export const KEY_BY_FIELD = new Map<string, KeySpec>(KEY_SPECS.map((s) => [s.field, s]));
