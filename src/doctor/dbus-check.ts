// Doctor check of the D-Bus face (DBUS=true): is the bus policy installed (without it root may not own
// com.coreos.update1), is there a system bus, and who owns the name now. Never throws.

import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { Message, sessionBus } from '@jellybrick/dbus-next';
import type { Settings } from '../config/schema.ts';
import { DBUS_NAME } from '../daemon/dbus-interface.ts';
import { DEFAULT_SYSTEM_BUS } from '../daemon/dbus-service.ts';
import { ok, warn, type DoctorResult } from './doctor-result.ts';

export const POLICY_FILE_NAME = `${DBUS_NAME}.conf`;

export interface DbusCheckPaths {
  /** Where dbus-daemon and dbus-broker read system bus policies. */
  policyDirs: string[];
  busAddress: string;
}

export const defaultDbusCheckPaths = (): DbusCheckPaths => ({
  policyDirs: ['/usr/share/dbus-1/system.d', '/etc/dbus-1/system.d'],
  busAddress: process.env.DBUS_SYSTEM_BUS_ADDRESS ?? DEFAULT_SYSTEM_BUS,
});

const INSTALL_POLICY = `install -m 0644 systemd/dbus/${POLICY_FILE_NAME} /usr/share/dbus-1/system.d/ && systemctl reload dbus`;

async function findPolicy(dirs: string[]): Promise<string | undefined> {
  for (const dir of dirs) {
    const path = join(dir, POLICY_FILE_NAME);
    if (
      await access(path).then(
        () => true,
        () => false,
      )
    )
      return path;
  }
  return undefined;
}

/** The owner of com.coreos.update1 ('' when nobody owns it); rejects when the bus cannot be reached. */
async function nameOwner(busAddress: string, timeoutMs: number): Promise<string> {
  const bus = sessionBus({ busAddress, authMethods: ['EXTERNAL'] });
  let timer: NodeJS.Timeout | undefined;
  try {
    const work = (async () => {
      await new Promise<void>((resolve, reject) => {
        bus.once('connect', resolve);
        (bus as unknown as NodeJS.EventEmitter).once('error', reject);
      });
      const driver = { destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus' };
      const reply = await bus.call(new Message({ ...driver, member: 'NameHasOwner', signature: 's', body: [DBUS_NAME] }));
      if (reply?.body[0] !== true) return '';
      return String((await bus.call(new Message({ ...driver, member: 'GetNameOwner', signature: 's', body: [DBUS_NAME] })))?.body[0] ?? '');
    })();
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
    bus.disconnect();
  }
}

export async function checkDbus(settings: Settings, paths: DbusCheckPaths = defaultDbusCheckPaths(), timeoutMs = 3000): Promise<DoctorResult[]> {
  if (!settings.dbus) return [ok('d-bus', `off (DBUS=false): locksmithd and update_engine's D-Bus clients get no ${DBUS_NAME}`)];
  const results: DoctorResult[] = [];
  const policy = await findPolicy(paths.policyDirs);
  results.push(
    policy
      ? ok('d-bus policy', `"${policy}"`)
      : warn(
          'd-bus policy',
          `no ${POLICY_FILE_NAME} in ${paths.policyDirs.map((d) => `"${d}"`).join(' or ')}: the bus will not let the daemon own ${DBUS_NAME}`,
          INSTALL_POLICY,
        ),
  );
  try {
    const owner = await nameOwner(paths.busAddress, timeoutMs);
    results.push(
      ok('d-bus', `system bus at "${paths.busAddress}"; ${DBUS_NAME} ${owner ? `owned by ${owner}` : 'not owned now (the daemon takes it when it runs)'}`),
    );
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    results.push(
      warn(
        'd-bus',
        `no system bus at "${paths.busAddress}" (${why}): the daemon waits for it and serves the control socket meanwhile`,
        'start dbus (systemctl start dbus), or set DBUS=false where nothing uses D-Bus',
      ),
    );
  }
  return results;
}
