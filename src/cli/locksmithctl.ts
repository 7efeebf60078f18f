// The locksmithctl command (../shared/CLI.md): status | lock [ID] | unlock [ID] | set-max N | reboot on
// the etcd reboot semaphore, halt V | resume V of the fleet circuit breaker, send-need-reboot (to the
// local daemon, else as a D-Bus signal), with locksmith's flags, LOCKSMITHCTL_<FLAG> environment variables, the settings'
// LOCKSMITHD_* keys as fallback, and locksmith's output and exit status. The etcd client (grpc) and
// the settings loader are imported only once a command needs them: --help and usage errors stay quick.

import type { EtcdSettings } from '../lock/etcd-options.ts';
import { main, parseCommandLine, println, usageError, type Command, type CommandContext } from './run.ts';
import { VERSION } from '../version.ts';

const FLAGS = {
  endpoint: { type: 'string' },
  group: { type: 'string' },
  'etcd-cafile': { type: 'string' },
  'etcd-certfile': { type: 'string' },
  'etcd-keyfile': { type: 'string' },
  'etcd-username': { type: 'string' },
  'etcd-password': { type: 'string' },
  config: { type: 'string', multiple: true },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
} as const;

const USAGE = `Usage: locksmithctl [OPTIONS] COMMAND

Manage the cluster-wide reboot lock (locksmith's semaphore in etcd's v3 keyspace).

Commands:
  status        Free slots, the maximum, the holders; then each holder's age and liveness
  lock [ID]     Take a slot for this machine (/etc/machine-id) or the given id
  unlock [ID]   Give back the slot of this machine or the given id
  set-max N     Set the number of machines that may reboot at once
  halt V        Stop version V in the group: no machine reboots into it, offers of it are deferred
  resume V      Clear version V's halt and failure records: machines take it at their next check
  reboot        Take this machine's slot, then reboot at once (REBOOT_COMMAND); as locksmith's,
                the slot is given back after the reboot (the update-engine daemon does that at start)
  send-need-reboot
                Tell the local update-engine daemon that a reboot is needed, over its control socket
                (CONTROL_SOCKET): its REBOOT_STRATEGY then runs (window, lock, REBOOT_COMMAND), and it
                sends update_engine's StatusUpdate signal. When no daemon answers there, send that
                D-Bus signal itself, as locksmith's did (to try a reboot manager such as locksmithd)

Options (each also from LOCKSMITHCTL_<FLAG>, e.g. LOCKSMITHCTL_ENDPOINT; then the settings'
LOCKSMITHD_* keys from update.conf and the environment):
  --endpoint URL[,URL]   etcd endpoints (default http://127.0.0.1:2379)
  --group G              lock group (default: the default semaphore)
  --etcd-cafile F        CA file for TLS (alone, or with a client certificate)
  --etcd-certfile F      client certificate (with --etcd-keyfile)
  --etcd-keyfile F       client key
  --etcd-username U      etcd user
  --etcd-password P      etcd password
  --config FILE          extra settings file (repeatable), as update-engine's
  -h, --help             this help`;

type Flags = ReturnType<typeof parseCommandLine<typeof FLAGS>>['values'];

/** Go's flag package accepts -endpoint as well as --endpoint: so do we. */
function normalizeDashes(argv: string[]): string[] {
  return argv.map((a) => (/^-[a-z][a-z-]+(=.*)?$/.test(a) && (a.slice(1).split('=')[0] ?? '') in FLAGS ? `-${a}` : a));
}

/** Flags, then LOCKSMITHCTL_* variables, then the settings (LOCKSMITHD_* keys), then defaults. */
async function etcdSettings(flags: Flags, ctx: CommandContext): Promise<EtcdSettings & { group: string; failureThreshold: number }> {
  const pick = (flag: keyof typeof FLAGS) => {
    const v = flags[flag];
    if (typeof v === 'string') return v;
    const env = ctx.env[`LOCKSMITHCTL_${flag.toUpperCase().replace(/-/g, '_')}`];
    return env !== undefined && env !== '' ? env : undefined;
  };
  let fallback: Partial<EtcdSettings> & { lockGroup?: string; fleetFailureThreshold?: number } = {};
  try {
    const { loadSettings } = await import('../config/load.ts');
    fallback = (await loadSettings({ env: ctx.env, configFiles: flags.config ?? [] })).settings;
  } catch (e) {
    if (flags.config !== undefined) throw e;
    ctx.stderr.write(`locksmithctl: ignoring the settings (update.conf, environment): ${(e as Error).message.split('\n')[0]}\n`);
  }
  const endpoint = pick('endpoint');
  const endpoints =
    endpoint !== undefined
      ? endpoint
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
      : (fallback.etcdEndpoints ?? ['http://127.0.0.1:2379']);
  for (const e of endpoints) {
    if (!/^https?:\/\/[^/]+\/?$/.test(e)) throw usageError(`Invalid etcd endpoint "${e}" (expected e.g. http://127.0.0.1:2379)`);
  }
  return {
    etcdEndpoints: endpoints,
    etcdCaFile: pick('etcd-cafile') ?? fallback.etcdCaFile,
    etcdCertFile: pick('etcd-certfile') ?? fallback.etcdCertFile,
    etcdKeyFile: pick('etcd-keyfile') ?? fallback.etcdKeyFile,
    etcdUsername: pick('etcd-username') ?? fallback.etcdUsername,
    etcdPassword: pick('etcd-password') ?? fallback.etcdPassword,
    group: pick('group') ?? fallback.lockGroup ?? '',
    failureThreshold: fallback.fleetFailureThreshold ?? 1,
  };
}

async function holderId(id: string | undefined): Promise<string> {
  if (id !== undefined) return id;
  const { readMachineId } = await import('../platform/identity.ts');
  const machineId = await readMachineId();
  if (!machineId) throw new LocksmithError('Cannot read machine-id');
  return machineId;
}

/** An error printed exactly as given (locksmith's texts), exit status 1. */
class LocksmithError extends Error {}

export const run: Command = async (argv, ctx) => {
  const { values: flags, positionals } = parseCommandLine(normalizeDashes(argv), FLAGS, true);
  const [command, ...args] = positionals;
  if (flags.version) {
    println(ctx.stdout, `locksmithctl (update-engine) ${VERSION}`);
    return 0;
  }
  if (flags.help || command === 'help' || command === undefined) {
    println(command === undefined && !flags.help ? ctx.stderr : ctx.stdout, USAGE);
    return command === undefined && !flags.help ? 2 : 0;
  }
  if (!['status', 'lock', 'unlock', 'set-max', 'halt', 'resume', 'reboot', 'send-need-reboot'].includes(command))
    throw usageError(`Unknown command "${command}"`);
  if (args.length > 1 || (['status', 'reboot', 'send-need-reboot'].includes(command) && args.length > 0))
    throw usageError(`Too many arguments for ${command}: ${args.join(' ')}`);
  if (command === 'send-need-reboot') return sendNeedReboot(flags, ctx);
  let maxValue: number | undefined;
  if (command === 'set-max') {
    if (args[0] === undefined) return fail(ctx, 'New maximum value must be set.');
    if (!/^-?\d+$/.test(args[0]) || Number(args[0]) < 0) return fail(ctx, `Invalid maximum value: ${args[0]}`);
    maxValue = Number(args[0]);
  }
  if (command === 'halt' || command === 'resume') {
    if (args[0] === undefined) throw usageError(`${command} needs a VERSION, e.g. locksmithctl ${command} 3602.2.3`);
    const { parseVersion } = await import('../config/values.ts');
    try {
      parseVersion(args[0]);
    } catch (e) {
      throw usageError(`Invalid version "${args[0]}" for ${command}: ${(e as Error).message}`);
    }
  }
  const settings = await etcdSettings(flags, ctx);
  const [{ EtcdLockStore }, { loadEtcdOptions }, { SemaphoreClient }, format, v2, { systemClock }, errors, breaker] = await Promise.all([
    import('../lock/etcd-lock-store.ts'),
    import('../lock/etcd-options.ts'),
    import('../lock/semaphore-client.ts'),
    import('../lock/status-format.ts'),
    import('../lock/v2-semaphore.ts'),
    import('../platform/clock.ts'),
    import('../errors.ts'),
    import('./locksmithctl-breaker.ts'),
  ]);
  const etcdOptions = await loadEtcdOptions(settings);
  const store = new EtcdLockStore(etcdOptions);
  const client = new SemaphoreClient({ store, group: settings.group, clock: systemClock });
  const action =
    command === 'lock' || command === 'reboot'
      ? 'Error locking:'
      : command === 'unlock'
        ? 'Error unlocking:'
        : command === 'set-max'
          ? 'Error setting value:'
          : command === 'halt'
            ? 'Error halting:'
            : command === 'resume'
              ? 'Error resuming:'
              : 'Error getting status:';
  try {
    if (command === 'status') {
      const snapshot = await client.snapshot();
      for (const line of [
        ...format.formatLocksmithStatus(snapshot),
        ...format.formatHolderDetails(snapshot, systemClock.now()),
        ...breaker.breakerLines(snapshot, settings.failureThreshold),
      ])
        println(ctx.stdout, line);
      const warning = v2.v2Warning(await v2.findV2Semaphore(etcdOptions, settings.group), settings.group);
      if (warning) println(ctx.stderr, warning);
    } else if (command === 'halt') {
      println(ctx.stdout, await breaker.halt(client, args[0] as string, breaker.operatorName(), systemClock.now()));
    } else if (command === 'resume') {
      println(ctx.stdout, await breaker.resume(client, args[0] as string));
    } else if (command === 'lock') {
      await client.lock(await holderId(args[0]), { liveness: false }, ctx.signal);
    } else if (command === 'reboot') {
      // locksmith's runReboot: lock, then reboot; the slot is given back after the reboot.
      await client.lock(await holderId(undefined), { liveness: false }, ctx.signal);
      const rebootCommand = await settingOf(flags, ctx, 'rebootCommand');
      const { CommandRebooter } = await import('../reboot/rebooter.ts');
      const { silentLogger } = await import('../platform/logger.ts');
      try {
        await new CommandRebooter({ command: rebootCommand ?? 'systemctl reboot', logger: silentLogger(), wallArgv: null }).reboot(
          'locksmithctl reboot',
          ctx.signal,
        );
      } catch (e) {
        if (errors.isUpdateEngineError(e)) return fail(ctx, `Error rebooting: ${e.message}`);
        throw e;
      }
    } else if (command === 'unlock') {
      await client.unlock(await holderId(args[0]), ctx.signal);
    } else {
      const { oldMax, semaphore } = await client.setMax(maxValue as number, ctx.signal);
      for (const line of format.formatSetMax(oldMax, semaphore.max)) println(ctx.stdout, line);
    }
    return 0;
  } catch (e) {
    if (e instanceof LocksmithError) return fail(ctx, e.message);
    if (errors.isUpdateEngineError(e) && e.code !== 'ERR_ABORTED' && e.code !== 'ERR_INTERNAL') return fail(ctx, `${action} ${e.message}`);
    throw e;
  } finally {
    await store.close();
  }
};

/** One value of the settings (update.conf layers, --config, the environment); undefined when they cannot be read. */
async function settingOf<K extends 'rebootCommand' | 'controlSocket'>(flags: Flags, ctx: CommandContext, key: K): Promise<string | undefined> {
  try {
    const { loadSettings } = await import('../config/load.ts');
    return (await loadSettings({ env: ctx.env, configFiles: flags.config ?? [] })).settings[key];
  } catch (e) {
    if (flags.config !== undefined) throw e;
    return undefined;
  }
}

/** send-need-reboot over the daemon's control socket (the channel update_engine_client uses too). */
async function sendNeedReboot(flags: Flags, ctx: CommandContext): Promise<number> {
  const [{ ControlClient }, { KEY_BY_FIELD }, errors] = await Promise.all([
    import('../daemon/control-client.ts'),
    import('../config/schema.ts'),
    import('../errors.ts'),
  ]);
  const socketPath = (await settingOf(flags, ctx, 'controlSocket')) ?? KEY_BY_FIELD.get('controlSocket')?.defaultText ?? '/run/update-engine/control.sock';
  let client;
  try {
    client = await ControlClient.connect(socketPath);
  } catch (e) {
    if (!errors.isUpdateEngineError(e)) throw e;
    // No daemon answers on the socket: send update_engine's signal ourselves, as locksmith's did.
    const { sendNeedRebootSignal } = await import('./send-need-reboot.ts');
    return sendNeedRebootSignal(ctx.env).then(
      () => 0,
      (busError: unknown) => fail(ctx, `error sending need-reboot: ${e.message}; ${(busError as Error).message}`),
    );
  }
  try {
    println(ctx.stdout, (await client.needReboot()).message);
    return 0;
  } catch (e) {
    if (errors.isUpdateEngineError(e)) return fail(ctx, `error sending need-reboot: ${e.message}`);
    throw e;
  } finally {
    client.close();
  }
}

function fail(ctx: CommandContext, line: string): number {
  println(ctx.stderr, line);
  return 1;
}

// grpc-js sets the TLS server name to an IP for https://<ip> endpoints, which Node reports as a
// deprecation (DEP0123) on every run: noise for a command-line tool.
process.noDeprecation = true;
main('locksmithctl', run);
