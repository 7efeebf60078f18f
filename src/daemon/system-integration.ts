// The daemon's faces to the system beside the control socket: update_engine's D-Bus interface (DBUS)
// and systemd's notify protocol (READY=1 once serving, STATUS= at each change, WATCHDOG=1, STOPPING=1).

import type { Settings } from '../config/schema.ts';
import type { Logger } from '../platform/logger.ts';
import { statusLine, SystemdNotifier } from '../platform/sd-notify.ts';
import type { ControlHandler } from './control-protocol.ts';
import type { DbusService } from './dbus-service.ts';

export interface SystemIntegrationOptions {
  /** Default: DBUS_SYSTEM_BUS_ADDRESS, else the system bus socket. */
  dbusAddress?: string;
  /** Between attempts to reach the bus (ms). */
  dbusRetryMs?: number;
  /** NOTIFY_SOCKET and WATCHDOG_* (default: process.env). */
  env?: NodeJS.ProcessEnv;
}

export interface SystemIntegration {
  readonly dbus: DbusService | undefined;
  /** Tells systemd the daemon serves (READY=1) and starts the watchdog pings. */
  ready(): Promise<void>;
  /** STOPPING=1, then leaves the bus. */
  close(): Promise<void>;
}

/** The systemd notifier (when started by systemd with NOTIFY_SOCKET), its watchdog pings running from now on. */
export function startSystemdWatchdog(logger: Logger, options: SystemIntegrationOptions = {}): SystemdNotifier | undefined {
  const notifier = SystemdNotifier.fromEnvironment({ logger, env: options.env });
  notifier?.startWatchdog();
  return notifier;
}

export async function startSystemIntegration(
  settings: Settings,
  handler: ControlHandler,
  logger: Logger,
  notifier: SystemdNotifier | undefined,
  options: SystemIntegrationOptions = {},
): Promise<SystemIntegration> {
  // The D-Bus library (about 13 MB of RSS) is loaded only with DBUS=true.
  const dbus = settings.dbus
    ? (await import('./dbus-service.ts')).DbusService.start({
        handler,
        groupName: settings.controlGroup,
        logger,
        busAddress: options.dbusAddress,
        retryMs: options.dbusRetryMs,
      })
    : undefined;
  if (!settings.dbus) logger.info('DBUS=false: not serving com.coreos.update1');
  const line = () => {
    const s = handler.status();
    return s instanceof Promise ? undefined : statusLine(s.status, s.progress, s.newVersion);
  };
  const unwatch = notifier ? handler.watch((s) => notifier.status(statusLine(s.status, s.progress, s.newVersion))) : () => {};
  return {
    dbus,
    async ready() {
      await notifier?.ready(line() ?? 'Serving');
    },
    async close() {
      unwatch();
      await notifier?.stopping();
      await notifier?.close();
      await dbus?.close();
    },
  };
}
