// The locksmithctl command (../shared/CLI.md): status | lock [ID] | unlock [ID] | set-max N on the etcd
// reboot semaphore, with locksmith's flags, LOCKSMITHCTL_<FLAG> environment variables, the settings'
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
async function etcdSettings(flags: Flags, ctx: CommandContext): Promise<EtcdSettings & { group: string }> {
  const pick = (flag: keyof typeof FLAGS) => {
    const v = flags[flag];
    if (typeof v === 'string') return v;
    const env = ctx.env[`LOCKSMITHCTL_${flag.toUpperCase().replace(/-/g, '_')}`];
    return env !== undefined && env !== '' ? env : undefined;
  };
  let fallback: Partial<EtcdSettings> & { lockGroup?: string } = {};
  try {
    const { loadSettings } = await import('../config/load.ts');
    fallback = (await loadSettings({ env: ctx.env, configFiles: flags.config ?? [] })).settings;
  } catch (e) {
    if (flags.config !== undefined) throw e;
    ctx.stderr.write(`locksmithctl: ignoring the settings (update.conf, environment): ${(e as Error).message.split('\n')[0]}\n`);
  }
  const endpoint = pick('endpoint');
  const endpoints = endpoint !== undefined ? endpoint.split(',').map((s) => s.trim()).filter(Boolean) : (fallback.etcdEndpoints ?? ['http://127.0.0.1:2379']);
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
  if (!['status', 'lock', 'unlock', 'set-max'].includes(command)) throw usageError(`Unknown command "${command}"`);
  if (args.length > 1 || (command === 'status' && args.length > 0)) throw usageError(`Too many arguments for ${command}: ${args.join(' ')}`);
  let maxValue: number | undefined;
  if (command === 'set-max') {
    if (args[0] === undefined) return fail(ctx, 'New maximum value must be set.');
    if (!/^-?\d+$/.test(args[0]) || Number(args[0]) < 0) return fail(ctx, `Invalid maximum value: ${args[0]}`);
    maxValue = Number(args[0]);
  }
  const settings = await etcdSettings(flags, ctx);
  const [{ EtcdLockStore }, { loadEtcdOptions }, { SemaphoreClient }, format, v2, { systemClock }, errors] = await Promise.all([
    import('../lock/etcd-lock-store.ts'),
    import('../lock/etcd-options.ts'),
    import('../lock/semaphore-client.ts'),
    import('../lock/status-format.ts'),
    import('../lock/v2-semaphore.ts'),
    import('../platform/clock.ts'),
    import('../errors.ts'),
  ]);
  const etcdOptions = await loadEtcdOptions(settings);
  const store = new EtcdLockStore(etcdOptions);
  const client = new SemaphoreClient({ store, group: settings.group, clock: systemClock });
  const action = command === 'lock' ? 'Error locking:' : command === 'unlock' ? 'Error unlocking:' : command === 'set-max' ? 'Error setting value:' : 'Error getting status:';
  try {
    if (command === 'status') {
      const snapshot = await client.snapshot();
      for (const line of [...format.formatLocksmithStatus(snapshot), ...format.formatHolderDetails(snapshot, systemClock.now())]) println(ctx.stdout, line);
      const warning = v2.v2Warning(await v2.findV2Semaphore(etcdOptions, settings.group), settings.group);
      if (warning) println(ctx.stderr, warning);
    } else if (command === 'lock') {
      await client.lock(await holderId(args[0]), { liveness: false }, ctx.signal);
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

function fail(ctx: CommandContext, line: string): number {
  println(ctx.stderr, line);
  return 1;
}

// grpc-js sets the TLS server name to an IP for https://<ip> endpoints, which Node reports as a
// deprecation (DEP0123) on every run: noise for a command-line tool.
process.noDeprecation = true;
main('locksmithctl', run);
