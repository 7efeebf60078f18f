// `locksmithctl send-need-reboot` when no daemon answers on the control socket, as locksmith's: emits update_engine's StatusUpdate signal saying
// UPDATE_STATUS_UPDATED_NEED_REBOOT (0, 0.0, "UPDATE_STATUS_UPDATED_NEED_REBOOT", "", 0) on the system
// bus, so that a reboot manager listening like locksmithd can be tried without an update.

import { Message, sessionBus } from '@jellybrick/dbus-next';
import { DBUS_INTERFACE, DBUS_PATH, DBUS_SIGNAL, STATUS_SIGNATURE } from '../daemon/dbus-interface.ts';
import { DEFAULT_SYSTEM_BUS } from '../daemon/dbus-service.ts';

/** Sends the signal; resolves once the bus has it (a round trip after it), or rejects with why not. */
export async function sendNeedRebootSignal(env: NodeJS.ProcessEnv, timeoutMs = 10_000): Promise<void> {
  const busAddress = env.DBUS_SYSTEM_BUS_ADDRESS ?? DEFAULT_SYSTEM_BUS;
  // sessionBus() is the library's "connect to this address" (its systemBus() ignores a given address).
  const bus = sessionBus({ busAddress, authMethods: ['EXTERNAL'] });
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      (async () => {
        await new Promise<void>((resolve, reject) => {
          bus.once('connect', resolve);
          (bus as unknown as NodeJS.EventEmitter).once('error', reject);
        });
        bus.send(Message.newSignal(DBUS_PATH, DBUS_INTERFACE, DBUS_SIGNAL, STATUS_SIGNATURE, [0n, 0, 'UPDATE_STATUS_UPDATED_NEED_REBOOT', '', 0n]));
        // Messages are delivered in order: once the bus answers this, it has the signal (locksmith slept 1 s).
        await bus.call(new Message({ destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus', member: 'GetId' }));
      })(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer from ${busAddress} within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } catch (e) {
    throw new Error(`error connecting to system dbus: ${(e as Error).message}`, { cause: e });
  } finally {
    clearTimeout(timer);
    bus.disconnect();
  }
}
