// Doctor checks of what the daemon talks to: the Omaha server (it answers an update check) and,
// for the lock strategies, etcd (reachable, semaphore readable, no live v2 semaphore beside it).

import type { Settings } from '../config/schema.ts';
import { GotTransport } from '../omaha/got-transport.ts';
import { OmahaClient } from '../omaha/omaha-client.ts';
import { EtcdLockStore } from '../lock/etcd-lock-store.ts';
import { loadEtcdOptions } from '../lock/etcd-options.ts';
import { SemaphoreClient } from '../lock/semaphore-client.ts';
import { findV2Semaphore, v2Warning } from '../lock/v2-semaphore.ts';
import { systemClock } from '../platform/clock.ts';
import type { EngineIdentity } from '../daemon/engine-deps.ts';
import { fail, ok, warn, type DoctorResult } from './doctor-result.ts';

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** Sends one update check (no event state is touched) and reports what the server said. */
export async function checkServer(settings: Settings, identity: EngineIdentity, timeoutMs = 10_000): Promise<DoctorResult> {
  if (settings.serverDisabled)
    return warn(
      'server',
      'SERVER is not set (or "disabled"): no update checks',
      'set SERVER=https://HOST/v1/update/ (your Nebraska) in /etc/flatcar/update.conf',
    );
  let transport: GotTransport | undefined;
  try {
    transport = await GotTransport.create({ caFile: settings.serverCaFile, connectTimeoutMs: timeoutMs });
    const client = new OmahaClient({ serverUrl: settings.server, transport, retry: { attempts: 1 }, responseTimeoutMs: timeoutMs, totalTimeoutMs: timeoutMs });
    const version = settings.version ?? '0.0.0';
    const result = await client.checkForUpdate(
      {
        appId: settings.appId,
        version,
        track: settings.group,
        machineId: identity.machineId,
        bootId: identity.bootId,
        alephVersion: version,
        machineAlias: settings.machineAlias,
        board: settings.board,
        installSource: 'ondemandupdate',
      },
      AbortSignal.timeout(timeoutMs + 1000),
    );
    if (result.kind === 'refused') {
      // A rollout refusal is the server working as configured: reported, not a failure.
      return ok('server', `"${settings.server}" answers: no update now, ${result.reason} (${result.explanation})`);
    }
    return ok(
      'server',
      `"${settings.server}" answers: ${result.kind === 'update' ? `version ${result.version} offered (${result.sizeBytes} bytes)` : 'no update'}`,
    );
  } catch (e) {
    return fail(
      'server',
      `"${settings.server}": ${message(e)}`,
      'check SERVER, the network path and SERVER_CA_FILE; the server must speak Omaha v3 (Nebraska does)',
    );
  } finally {
    transport?.close();
  }
}

/** For etcd-lock and best-effort: the semaphore is readable, and no etcd v2 semaphore exists beside it. */
export async function checkEtcd(settings: Settings, timeoutMs = 5000): Promise<DoctorResult[]> {
  if (settings.rebootStrategy !== 'etcd-lock' && settings.rebootStrategy !== 'best-effort') {
    return [ok('reboot lock', `REBOOT_STRATEGY=${settings.rebootStrategy}: no etcd lock used`)];
  }
  const where = settings.etcdEndpoints.join(',');
  let store: EtcdLockStore | undefined;
  try {
    const options = await loadEtcdOptions(settings, { callTimeoutMs: timeoutMs });
    store = new EtcdLockStore(options);
    const client = new SemaphoreClient({ store, group: settings.lockGroup, clock: systemClock });
    const snapshot = await Promise.race([
      client.snapshot(),
      new Promise<never>((_, reject) => {
        setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs).unref();
      }),
    ]);
    const { semaphore } = snapshot;
    const results: DoctorResult[] = [
      ok(
        'etcd',
        `${where}: semaphore${settings.lockGroup ? ` of group "${settings.lockGroup}"` : ''} ${semaphore.semaphore}/${semaphore.max} free${semaphore.holders.length ? `, held by ${semaphore.holders.join(', ')}` : ''}`,
      ),
    ];
    const v2 = v2Warning(await findV2Semaphore(options, settings.lockGroup), settings.lockGroup);
    if (v2)
      results.push(fail('etcd v2', v2, 'stop the v2 locksmith on every machine of the group (or move them all to update-engine), then remove the v2 key'));
    return results;
  } catch (e) {
    const down = `${where}: ${message(e)}`;
    if (settings.rebootStrategy === 'best-effort')
      return [warn('etcd', down, 'best-effort reboots without the lock while etcd is unreachable; check LOCKSMITHD_ENDPOINT')];
    return [
      fail('etcd', down, 'check LOCKSMITHD_ENDPOINT and the LOCKSMITHD_ETCD_* TLS and auth settings; with etcd down, a machine waits for the lock forever'),
    ];
  } finally {
    await store?.close().catch(() => undefined);
  }
}
