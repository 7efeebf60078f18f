// Who called over D-Bus, and may they change things: root and the members of CONTROL_GROUP, as the
// control socket's mode 0660 allows. The caller's uid and groups come from the bus itself
// (GetConnectionCredentials), or from /proc for buses that report no UnixGroupIDs.

import { readFile } from 'node:fs/promises';
import { DBusError, Message, type MessageBus, type Variant } from '@jellybrick/dbus-next';
import type { Logger } from '../platform/logger.ts';
import { lookupGroupId } from './control-server.ts';
import { DBUS_ERROR_ACCESS_DENIED } from './dbus-interface.ts';

/** The bus driver's address fields. */
export const BUS_DRIVER = { destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus' };

export interface CallerCheck {
  /** The caller's unique name (:1.42). */
  sender: string;
  member: string;
  /** CONTROL_GROUP: a group name, or a gid. */
  groupName: string;
  groupFile?: string;
  logger: Logger;
}

/** Resolves when the caller is root or in CONTROL_GROUP; otherwise throws AccessDenied naming the rule. */
export async function authorizeCaller(bus: MessageBus, check: CallerCheck): Promise<void> {
  const reply = await bus.call(new Message({ ...BUS_DRIVER, member: 'GetConnectionCredentials', signature: 's', body: [check.sender] }));
  const creds = (reply?.body[0] ?? {}) as Record<string, Variant | undefined>;
  const uid = creds.UnixUserID?.value as number | undefined;
  if (uid === 0) return;
  const gid = await lookupGroupId(check.groupName, check.groupFile);
  const groups = (creds.UnixGroupIDs?.value as number[] | undefined) ?? (await processGroups(creds.ProcessID?.value as number | undefined));
  if (uid !== undefined && groups.includes(gid)) return;
  check.logger.warn({ caller: check.sender, uid, member: check.member }, 'D-Bus call refused: caller is neither root nor in CONTROL_GROUP');
  throw new DBusError(
    DBUS_ERROR_ACCESS_DENIED,
    `Only root and members of CONTROL_GROUP "${check.groupName}" may call ${check.member} (caller uid ${uid ?? 'unknown'})`,
  );
}

/** The primary and supplementary group ids of a process. */
async function processGroups(pid: number | undefined): Promise<number[]> {
  if (pid === undefined) return [];
  const text = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const ids = (key: string) =>
    (new RegExp(`^${key}:\\s*(.*)$`, 'm').exec(text)?.[1] ?? '')
      .split(/\s+/)
      .filter((w) => /^\d+$/.test(w))
      .map(Number);
  // Gid: real, effective, saved, file system; the file system gid decides file access, as on the socket.
  return [...ids('Gid').slice(1), ...ids('Groups')];
}
