// Runs every doctor check in a fixed order and returns the results (the CLI prints them).

import { describeSource, type LoadedSettings } from '../config/load.ts';
import { readMachineIdentity, defaultIdentityPaths, type IdentityPaths } from '../platform/identity.ts';
import type { SlotDetectPaths } from '../slots/index.ts';
import { ok, warn, type DoctorResult } from './doctor-result.ts';
import { checkCommands, checkDirectories, checkKeyring, checkSlots, checkThrottle } from './local-checks.ts';
import { checkEtcd, checkServer } from './remote-checks.ts';
import { checkDbus, type DbusCheckPaths } from './dbus-check.ts';
import { PLAIN_HTTP_SERVER_WARNING } from '../config/schema.ts';
import { checkEsp } from './esp-checks.ts';
import { checkBootBackend } from './boot-checks.ts';

export interface DoctorOptions {
  identityPaths?: IdentityPaths;
  slotPaths?: Partial<SlotDetectPaths>;
  /** Per remote check; default 10 s for the server, 5 s for etcd. */
  timeoutMs?: number;
  /** The D-Bus policy directories and bus address (default: the system's). */
  dbusPaths?: DbusCheckPaths;
}

/** The disk path from the 'disk' result ("/dev/vda": ...). */
function diskOf(results: DoctorResult[]): string | undefined {
  return /^"([^"]+)"/.exec(results.find((r) => r.name === 'disk')?.detail ?? '')?.[1];
}

export async function runDoctor(loaded: LoadedSettings, options: DoctorOptions = {}): Promise<DoctorResult[]> {
  const { settings } = loaded;
  const results: DoctorResult[] = [];
  const fromFiles = [...loaded.raw.values()].filter((v) => v.source.kind === 'file' || v.source.kind === 'env').length;
  results.push(
    loaded.warnings.length === 0
      ? ok('settings', `valid; ${fromFiles} value(s) set in files or the environment`)
      : warn('settings', `valid, with ${loaded.warnings.length} warning(s): ${loaded.warnings.join('; ')}`, 'see `update-engine config`'),
  );
  if (loaded.ignored.length > 0) {
    const list = loaded.ignored.map((i) => `${i.key}="${i.value}" (${describeSource(i.source)})`).join(', ');
    results.push(ok('vendor values', `ignored ${list}: SERVER and APP_ID come only from /etc/flatcar/update.conf, --config or the environment`));
  }
  if (settings.version === undefined)
    results.push(warn('version', 'VERSION is unknown: every payload will look newer', 'set VERSION, or FLATCAR_RELEASE_VERSION in the release file'));
  results.push(await checkKeyring(settings));
  const slots = await checkSlots(settings, options.slotPaths);
  results.push(...slots);
  results.push(await checkThrottle(settings, slots.find((r) => r.name === 'disk' && r.status === 'ok') ? (settings.disk ?? diskOf(slots)) : undefined));
  results.push(...(await checkEsp(settings, options.slotPaths)));
  results.push(await checkBootBackend(settings, slots.find((r) => r.name === 'disk' && r.status === 'ok') ? (settings.disk ?? diskOf(slots)) : undefined));
  results.push(...(await checkDirectories(settings)));
  results.push(...(await checkCommands(settings)));
  results.push(...(await checkDbus(settings, options.dbusPaths)));
  const identity = await readMachineIdentity(options.identityPaths ?? defaultIdentityPaths);
  if (identity.missing.length > 0)
    results.push(
      warn('machine id', `missing: ${identity.missing.join(', ')}`, 'run systemd-machine-id-setup: the lock and the server know machines by /etc/machine-id'),
    );
  results.push(await checkServer(settings, identity, options.timeoutMs ?? 10_000));
  if (!settings.serverDisabled && settings.server.startsWith('http:'))
    results.push(warn('server https', PLAIN_HTTP_SERVER_WARNING, 'use an https:// SERVER, and set REQUIRE_HTTPS=true to refuse http'));
  results.push(...(await checkEtcd(settings, options.timeoutMs ?? 5000)));
  return results;
}
