// update_engine's D-Bus interface as Flatcar ships it (dbus_constants.h, update_engine.xml): the name,
// object and interface, the five status values, and the exported object that introspects and signals.
// The methods themselves are answered by dbus-service.ts, which knows the caller.

import { DBusError, interface as dbusInterface } from '@jellybrick/dbus-next';
import type { StatusSnapshot } from './status.ts';

export const DBUS_NAME = 'com.coreos.update1';
export const DBUS_PATH = '/com/coreos/update1';
export const DBUS_INTERFACE = 'com.coreos.update1.Manager';
/** The signal locksmithd matches: type='signal',interface='com.coreos.update1.Manager',member='StatusUpdate'. */
export const DBUS_SIGNAL = 'StatusUpdate';
/** The signature of GetStatus's reply and of StatusUpdate: last_checked_time, progress, current_operation, new_version, new_size. */
export const STATUS_SIGNATURE = 'xdssx';
/** The error name for a failed method (update_engine's clients print only the message). */
export const DBUS_ERROR_FAILED = 'com.coreos.update1.Error.Failed';
export const DBUS_ERROR_ACCESS_DENIED = 'org.freedesktop.DBus.Error.AccessDenied';

/** The methods: name -> whether it changes things (root and CONTROL_GROUP only). */
export const DBUS_METHODS: Readonly<Record<string, { changes: boolean; outSignature: string }>> = {
  AttemptUpdate: { changes: true, outSignature: '' },
  ResetStatus: { changes: true, outSignature: '' },
  GetStatus: { changes: false, outSignature: STATUS_SIGNATURE },
};

type IntrospectXml = ReturnType<InstanceType<typeof dbusInterface.Interface>['$introspect']>;

/** The five values as update_engine sends them (int64 as bigint). */
export type StatusBody = [bigint, number, string, string, bigint];

/** GetStatus's reply and StatusUpdate's body for a snapshot: current_operation is the status name, as in update_engine. */
export function statusBody(s: StatusSnapshot): StatusBody {
  return [BigInt(Math.floor(s.lastCheckedTimeSeconds)), s.progress, s.status, s.newVersion === '' ? '0.0.0' : s.newVersion, BigInt(Math.floor(s.newSizeBytes))];
}

const refused = () => {
  throw new DBusError(DBUS_ERROR_FAILED, 'Not served here');
};

/**
 * The exported object: its members make the introspection XML and StatusUpdate() emits the signal.
 * Method calls never reach these bodies: dbus-service.ts answers them first (it needs the sender).
 */
export class ManagerInterface extends dbusInterface.Interface {
  constructor() {
    super(DBUS_INTERFACE);
  }

  AttemptUpdate(): void {
    refused();
  }

  ResetStatus(): void {
    refused();
  }

  GetStatus(): StatusBody {
    return refused();
  }

  /** Emits StatusUpdate with these values (the library sends what this returns). */
  StatusUpdate(body: StatusBody): StatusBody {
    return body;
  }

  /** The introspection of update_engine.xml, with its argument names (the library's own has none). */
  override $introspect(): IntrospectXml {
    const statusArgs = (direction?: 'out') => STATUS_ARGS.map(([name, type]) => ({ $: { name, type, ...(direction ? { direction } : {}) } }));
    return {
      $: { name: DBUS_INTERFACE },
      method: [{ $: { name: 'AttemptUpdate' } }, { $: { name: 'ResetStatus' } }, { $: { name: 'GetStatus' }, arg: statusArgs('out') }],
      signal: [{ $: { name: DBUS_SIGNAL }, arg: statusArgs() }],
    } as IntrospectXml;
  }
}

/** update_engine.xml's names and types of the five values. */
const STATUS_ARGS: ReadonlyArray<readonly [string, string]> = [
  ['last_checked_time', 'x'],
  ['progress', 'd'],
  ['current_operation', 's'],
  ['new_version', 's'],
  ['new_size', 'x'],
];

ManagerInterface.configureMembers({
  methods: {
    AttemptUpdate: {},
    ResetStatus: {},
    GetStatus: { outSignature: STATUS_SIGNATURE },
  },
  signals: {
    StatusUpdate: { signature: STATUS_SIGNATURE },
  },
});
