// The Settings schema: the zod object built from the one settings table (settings-table.ts), the
// rules between keys (a window needs a start and a length, fleet-lock needs its URL, ...), and the key
// specs that `config`, update.conf.example and docs/settings.md print.

import { z } from 'zod';
import { parseLocksmithWindow, type RebootWindow } from './values.ts';
import { SETTINGS, type SettingSpec } from './settings-table.ts';
import { isLoopbackListen } from './value-parsers.ts';

export { DEFAULT_APP_ID, REBOOT_STRATEGIES } from './settings-table.ts';
export { PLAIN_HTTP_SERVER_WARNING } from './value-parsers.ts';

type SettingsTable = typeof SETTINGS;
type SettingsShape = {
  [F in keyof SettingsTable]: SettingsTable[F] extends { default: string }
    ? z.ZodPrefault<SettingsTable[F]['parse']>
    : z.ZodOptional<SettingsTable[F]['parse']>;
};

function settingsShape(): SettingsShape {
  const entries = Object.entries(SETTINGS as Record<string, SettingSpec>).map(([field, spec]) => [
    field,
    spec.default === undefined ? spec.parse.optional() : spec.parse.prefault(spec.default),
  ]);
  return Object.fromEntries(entries) as SettingsShape;
}

/** The validated settings (input: field -> text of the value). */
export const settingsSchema = z
  .object(settingsShape())
  .superRefine((s, ctx) => {
    if ((s.rebootWindowStart === undefined) !== (s.rebootWindowLengthMs === undefined)) {
      const [present, missing] =
        s.rebootWindowStart === undefined
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
    if (s.metricsListen !== undefined && !s.metricsAllowRemote && !isLoopbackListen(s.metricsListen)) {
      ctx.addIssue({
        code: 'custom',
        path: ['metricsListen'],
        message: `"${s.metricsListen}" is not a loopback address or a Unix socket: the metrics would be open to the network; set METRICS_ALLOW_REMOTE=true to allow it`,
      });
    }
    if (s.requireHttps && s.server.startsWith('http:')) {
      ctx.addIssue({ code: 'custom', path: ['server'], message: 'REQUIRE_HTTPS=true refuses an http:// SERVER; use https://' });
    }
    if (s.slotAPartition === s.slotBPartition) {
      ctx.addIssue({ code: 'custom', path: ['slotBPartition'], message: 'slot A and slot B must be different partitions' });
    }
    if ((s.etcdCertFile === undefined) !== (s.etcdKeyFile === undefined)) {
      const [present, missing] = s.etcdCertFile === undefined ? ['etcdKeyFile', 'LOCKSMITHD_ETCD_CERTFILE'] : ['etcdCertFile', 'LOCKSMITHD_ETCD_KEYFILE'];
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
export type SettingsField = keyof SettingsTable;

/** One update.conf key: its field, whether it is a secret, its documentation and its default as written. */
export interface KeySpec {
  key: string;
  field: SettingsField;
  doc: string;
  /** The default as written in update.conf (the schema parses it like a value). */
  defaultText?: string | undefined;
  example?: string | undefined;
  secret?: boolean;
  aliases?: readonly string[] | undefined;
}

/** Every key, in the order of SETTINGS. */
export const KEY_SPECS: readonly KeySpec[] = Object.entries(SETTINGS as Record<string, SettingSpec>).map(([field, spec]) => ({
  key: spec.key,
  field: field as SettingsField,
  doc: spec.doc,
  defaultText: spec.default,
  example: spec.example,
  ...(spec.secret ? { secret: true } : {}),
  aliases: spec.aliases,
}));

export const KEY_BY_FIELD = new Map<string, KeySpec>(KEY_SPECS.map((s) => [s.field, s]));
