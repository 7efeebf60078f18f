// The settings table: every update.conf key declared ONCE (one row per key: its name, parser,
// default as written in update.conf, doc text, example). The zod schema (schema.ts), the key list that
// `config` prints, update.conf.example and docs/settings.md all follow from it.
//
// To add a key: add one row to SETTINGS (field name = the key in camelCase with its unit), then run
// `npm run settings:docs` to regenerate update.conf.example and docs/settings.md (a test checks them).

import { z } from 'zod';
import { parseRebootWindows, parseTimeZone } from './values.ts';
import {
  bool,
  command,
  cron,
  duration,
  espDirectory,
  espLocation,
  guid,
  hostList,
  imagePath,
  listen,
  nonEmpty,
  parsed,
  partition,
  positiveCount,
  serverUrl,
  size,
  url,
  urlList,
  version,
} from './value-parsers.ts';

/** This project's own Omaha app id (used when neither APP_ID nor the release file sets one). */
export const DEFAULT_APP_ID = '{4d3c2f2a-9b8e-4a1c-8f5e-2b7d6c1a9e30}';

export const REBOOT_STRATEGIES = ['reboot', 'etcd-lock', 'best-effort', 'off', 'fleet-lock'] as const;

/** One update.conf key. */
export interface SettingSpec {
  /** The key as written in update.conf. */
  readonly key: string;
  /** Parses the text of the value (a zod schema with string input). */
  readonly parse: z.ZodType;
  /** The default as written in update.conf; parsed like a value. None: the setting is optional. */
  readonly default?: string;
  /** What the key means (update.conf.example, docs/settings.md). */
  readonly doc: string;
  /** A typical value (docs). */
  readonly example?: string;
  /** Never printed or logged. */
  readonly secret?: boolean;
  /** Other names accepted for this key (lower precedence than `key` in the same layer). */
  readonly aliases?: readonly string[];
}

/** Every key, in the order `config` prints them and update.conf.example documents them. */
export const SETTINGS = {
  server: {
    key: 'SERVER',
    parse: serverUrl,
    doc: 'Omaha update server URL; "disabled" turns update checks off',
    default: 'disabled',
    example: 'https://nebraska.example.net/v1/update/',
  },
  group: { key: 'GROUP', parse: nonEmpty('a group name'), doc: 'Update group (Omaha track)', default: 'stable', example: 'beta' },
  appId: { key: 'APP_ID', parse: nonEmpty('an Omaha app id'), doc: 'Omaha appid', default: DEFAULT_APP_ID },
  board: { key: 'BOARD', parse: nonEmpty('a board name'), doc: 'Omaha board; a payload made for another board is refused', example: 'amd64-usr' },
  version: {
    key: 'VERSION',
    parse: version,
    doc: 'Running OS version (semver-like); default: FLATCAR_RELEASE_VERSION of the release file, else VERSION_ID of /etc/os-release',
    example: '3374.2.0',
  },
  machineAlias: { key: 'MACHINE_ALIAS', parse: z.string(), doc: 'Human-readable machine name sent to the server', default: '', example: 'web-17' },
  rebootStrategy: {
    key: 'REBOOT_STRATEGY',
    parse: z.enum(REBOOT_STRATEGIES, { error: `expected one of ${REBOOT_STRATEGIES.join(', ')}` }),
    doc: 'reboot, etcd-lock, best-effort, off or fleet-lock',
    default: 'reboot',
    example: 'etcd-lock',
  },
  rebootWindowStart: {
    key: 'LOCKSMITHD_REBOOT_WINDOW_START',
    parse: z.string(),
    doc: 'Reboot window start, [Day ]HH:MM (e.g. "Thu 04:00"); needs a length',
    aliases: ['REBOOT_WINDOW_START'],
    example: 'Thu 04:00',
  },
  rebootWindowLengthMs: {
    key: 'LOCKSMITHD_REBOOT_WINDOW_LENGTH',
    parse: duration,
    doc: 'Reboot window length, Go duration (e.g. 1h30m); needs a start',
    aliases: ['REBOOT_WINDOW_LENGTH'],
    example: '1h30m',
  },
  rebootWindowsExtra: {
    key: 'REBOOT_WINDOWS',
    parse: parsed(parseRebootWindows),
    doc: 'Several windows, ;-separated, each [Day[-Day] ]HH:MM DURATION (e.g. "Mon-Fri 02:00 1h; Sat 04:00 3h")',
    example: 'Mon-Fri 02:00 1h; Sat 04:00 3h',
  },
  rebootTimeZone: {
    key: 'REBOOT_TIMEZONE',
    parse: parsed(parseTimeZone),
    doc: 'IANA time zone for all windows (e.g. Europe/Berlin); default: local time',
    example: 'Europe/Berlin',
  },
  etcdEndpoints: {
    key: 'LOCKSMITHD_ENDPOINT',
    parse: urlList,
    doc: 'etcd endpoints for the reboot lock, comma-separated',
    default: 'http://127.0.0.1:2379',
    example: 'https://10.0.0.1:2379,https://10.0.0.2:2379',
  },
  etcdCaFile: { key: 'LOCKSMITHD_ETCD_CAFILE', parse: nonEmpty('a file'), doc: 'CA file for TLS to etcd', example: '/etc/ssl/etcd/ca.pem' },
  etcdCertFile: {
    key: 'LOCKSMITHD_ETCD_CERTFILE',
    parse: nonEmpty('a file'),
    doc: 'Client certificate for TLS to etcd (with KEYFILE)',
    example: '/etc/ssl/etcd/client.pem',
  },
  etcdKeyFile: {
    key: 'LOCKSMITHD_ETCD_KEYFILE',
    parse: nonEmpty('a file'),
    doc: 'Client key for TLS to etcd (with CERTFILE)',
    example: '/etc/ssl/etcd/client-key.pem',
  },
  etcdUsername: { key: 'LOCKSMITHD_ETCD_USERNAME', parse: z.string(), doc: 'etcd user name', example: 'locksmith' },
  etcdPassword: { key: 'LOCKSMITHD_ETCD_PASSWORD', parse: z.string(), doc: 'etcd password (never logged)', secret: true },
  lockGroup: { key: 'LOCKSMITHD_GROUP', parse: z.string(), doc: 'Reboot lock group; empty = the default semaphore', default: '', example: 'web' },
  fleetLockUrl: {
    key: 'FLEET_LOCK_URL',
    parse: url('a FleetLock server URL'),
    doc: 'FleetLock server base URL, for REBOOT_STRATEGY=fleet-lock',
    example: 'https://fleetlock.example.net/',
  },
  lockStaleAfterMs: {
    key: 'LOCK_STALE_AFTER',
    parse: duration,
    doc: 'Evict a lock holder whose liveness key is gone this long (Go duration); 0 = never',
    default: '0',
    example: '1h',
  },
  fleetFailureThreshold: {
    key: 'FLEET_FAILURE_THRESHOLD',
    parse: positiveCount,
    doc: 'Machines of the lock group that must fail with a version (roll back) before no machine of the group reboots into it (etcd-lock only)',
    default: '1',
    example: '2',
  },
  rebootCommand: {
    key: 'REBOOT_COMMAND',
    parse: command,
    doc: 'How to reboot: split on white space into argv, run without a shell',
    default: 'systemctl reboot',
    example: 'systemctl reboot',
  },
  healthCheck: {
    key: 'HEALTH_CHECK',
    parse: command,
    doc: 'Command that must exit 0 before a new slot is marked good (split on white space, no shell)',
    example: '/usr/local/bin/service-healthy',
  },
  healthTimeoutMs: {
    key: 'HEALTH_TIMEOUT',
    parse: duration,
    doc: 'How long the health check is retried before the slot is given up',
    default: '10m',
    example: '15m',
  },
  kernelPath: {
    key: 'KERNEL_PATH',
    parse: imagePath,
    doc: "The kernel inside a new slot's image (path from the image's root); copied to KERNEL_DIR as vmlinuz-a or vmlinuz-b",
    default: '/boot/vmlinuz',
  },
  kernelDir: {
    key: 'KERNEL_DIR',
    parse: espDirectory,
    doc: "Directory on the EFI system partition for the slots' kernels; when the ESP is not mounted, its partition on DISK is mounted at the parent directory",
    default: '/boot/flatcar',
  },
  postinstall: {
    key: 'POSTINSTALL',
    parse: bool,
    doc: "Run the new image's executable /postinst (argv[1] = the new slot's device) before the flip",
    default: 'true',
    example: 'false',
  },
  postinstallTimeoutMs: {
    key: 'POSTINSTALL_TIMEOUT',
    parse: duration,
    doc: 'How long /postinst may run before it is killed and the update fails (Go duration)',
    default: '5m',
    example: '10m',
  },
  checkSchedule: {
    key: 'CHECK_SCHEDULE',
    parse: cron,
    doc: 'Cron expression for update checks, instead of the default cadence (7 min after start, then every 45 min)',
    example: '*/30 * * * *',
  },
  disk: {
    key: 'DISK',
    parse: nonEmpty('a disk path'),
    doc: 'Disk or image file holding the slots; default: the disk behind the booted /usr',
    example: '/dev/vda',
  },
  bootedPartition: {
    key: 'BOOTED_PARTITION',
    parse: partition,
    doc: 'Partition number booted from; default: detected from /proc/cmdline and mounts',
    example: '3',
  },
  slotAPartition: { key: 'SLOT_A_PARTITION', parse: partition, doc: 'Partition number of slot A (USR-A)', default: '3' },
  slotBPartition: { key: 'SLOT_B_PARTITION', parse: partition, doc: 'Partition number of slot B (USR-B)', default: '4' },
  publicKeys: {
    key: 'PUBLIC_KEYS',
    parse: nonEmpty('a file or directory'),
    doc: 'PEM public key file, or a directory whose *.pem keys are trusted',
    default: '/usr/share/update-engine/keys.d',
    example: '/etc/update-engine/keys.d',
  },
  allowDowngrade: { key: 'ALLOW_DOWNGRADE', parse: bool, doc: 'Accept a payload not newer than VERSION (logged loudly)', default: 'false' },
  serverCaFile: {
    key: 'SERVER_CA_FILE',
    parse: nonEmpty('a file'),
    doc: 'Extra CA bundle for HTTPS to the server and payload URLs; default: system CAs',
    example: '/etc/ssl/certs/internal-ca.pem',
  },
  downloadUser: { key: 'DOWNLOAD_USER', parse: z.string(), doc: 'HTTP basic-auth user for payload URLs (HTTPS only)', example: 'fleet' },
  downloadPassword: { key: 'DOWNLOAD_PASSWORD', parse: z.string(), doc: 'HTTP basic-auth password for payload URLs (never logged)', secret: true },
  downloadHosts: {
    key: 'DOWNLOAD_HOSTS',
    parse: hostList,
    doc: "Hosts (host or host:port, comma-separated) that may receive DOWNLOAD_USER/PASSWORD besides SERVER's host; always over https, never after a redirect elsewhere",
    default: '',
    example: 'dl.example.net,mirror.example.net:8443',
  },
  downloadTimeoutMs: {
    key: 'DOWNLOAD_TIMEOUT',
    parse: duration,
    doc: 'Overall deadline of one payload download (Go duration); the low-speed guard cuts off a stalled one earlier',
    default: '2h',
    example: '30m',
  },
  failedVersionTtlMs: {
    key: 'FAILED_VERSION_TTL',
    parse: duration,
    doc: 'How long a version that verified and then failed (rolled back) is not applied again (Go duration)',
    default: '168h',
    example: '24h',
  },
  requireHttps: {
    key: 'REQUIRE_HTTPS',
    parse: bool,
    doc: 'Refuse an http:// SERVER (doctor and config warn about one either way)',
    default: 'false',
    example: 'true',
  },
  slotType: {
    key: 'SLOT_TYPE',
    parse: guid,
    doc: 'Partition type GUID a slot must have; a partition labelled USR-A/B with another type is refused',
    default: '5dfbf5f4-2848-4bac-aa5e-0d9a20b745a6',
  },
  ioWriteBytesPerSecond: {
    key: 'IO_WRITE_BPS',
    parse: size,
    doc: 'Write limit on the passive slot, bytes/s with K/M/G; 0 = none',
    default: '0',
    example: '40M',
  },
  ioReadBytesPerSecond: {
    key: 'IO_READ_BPS',
    parse: size,
    doc: 'Read limit on the booted slot while looking for local chunks (delta updates), bytes/s with K/M/G; 0 = none',
    default: '0',
    example: '40M',
  },
  delta: {
    key: 'DELTA',
    parse: bool,
    doc: 'Fetch only the chunks the machine lacks (the booted slot is the seed); false = always fetch the whole payload',
    default: 'true',
    example: 'false',
  },
  downloadBytesPerSecond: { key: 'DOWNLOAD_BPS', parse: size, doc: 'Download limit, bytes/s with K/M/G; 0 = none', default: '0', example: '10M' },
  stateDir: {
    key: 'STATE_DIR',
    parse: nonEmpty('a directory'),
    doc: 'Persisted state (resume point, versions, failures, backoff)',
    default: '/var/lib/update-engine',
  },
  runDir: {
    key: 'RUN_DIR',
    parse: nonEmpty('a directory'),
    doc: 'Volatile state that a reboot clears (the need-reboot marker)',
    default: '/run/update-engine',
  },
  controlSocket: { key: 'CONTROL_SOCKET', parse: nonEmpty('a socket path'), doc: "The daemon's control socket", default: '/run/update-engine/control.sock' },
  controlGroup: {
    key: 'CONTROL_GROUP',
    parse: nonEmpty('a group name'),
    doc: 'Group allowed to use the control socket',
    default: 'root',
    example: 'update-engine',
  },
  dbus: {
    key: 'DBUS',
    parse: bool,
    doc: "Serve update_engine's D-Bus interface com.coreos.update1 on the system bus (for locksmithd and update_engine's clients); a missing bus is retried",
    default: 'true',
    example: 'false',
  },
  metricsListen: {
    key: 'METRICS_LISTEN',
    parse: listen,
    doc: '127.0.0.1:PORT or a Unix socket path for Prometheus metrics at /metrics; default: off',
    example: '127.0.0.1:9105',
  },
  metricsAllowRemote: { key: 'METRICS_ALLOW_REMOTE', parse: bool, doc: 'Let METRICS_LISTEN bind an address other than loopback', default: 'false' },
  bootBackend: {
    key: 'BOOT_BACKEND',
    parse: z.enum(['gptprio', 'grubenv', 'bls'], { error: 'expected gptprio, grubenv or bls' }),
    doc: "Boot selection the bootloader reads: gptprio (GPT priority bits, Flatcar GRUB), grubenv (stock GRUB with the project's grub.cfg fragment) or bls (systemd-boot entries with boot counting)",
    default: 'gptprio',
    example: 'grubenv',
  },
  esp: {
    key: 'ESP',
    parse: espLocation,
    doc: 'The EFI system partition for BOOT_BACKEND=grubenv or bls: where it is mounted, or "partition:N" (or "auto": the EFI-type partition) of DISK, reached with mtools',
    default: '/boot',
    example: 'partition:1',
  },
  logLevel: {
    key: 'LOG_LEVEL',
    parse: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], { error: 'expected trace, debug, info, warn, error, fatal or silent' }),
    doc: 'trace, debug, info, warn, error, fatal or silent',
    default: 'info',
    example: 'debug',
  },
} satisfies Record<string, SettingSpec>;
