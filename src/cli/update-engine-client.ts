// The update_engine_client command (../shared/CLI.md): talks to the daemon over its control socket.
// gflags spellings; -status prints update_engine's exact format; -update and -watch_for_updates follow
// the status with a progress bar on a TTY and plain lines otherwise, -watch_for_updates also with
// update_engine_client's own glog lines on stderr; -update exits 0 or 1 as update_engine_client does.

import { ControlClient } from '../daemon/control-client.ts';
import { formatStatusText, type StatusError, type StatusSnapshot } from '../daemon/status.ts';
import { loadSettings } from '../config/load.ts';
import { KEY_BY_FIELD } from '../config/schema.ts';
import { UpdateEngineError } from '../errors.ts';
import { createStatusView } from './status-view.ts';
import { normalizeGflagsArgv } from './gflags-argv.ts';
import { glogStatusLines } from './glog-status.ts';
import { main, parseCommandLine, println, usageError, type Command, type CommandContext } from './run.ts';

const PROGRAM = 'update_engine_client';
const ACTIONS = ['status', 'check_for_update', 'reset_status', 'update', 'watch_for_updates'] as const;
type ClientAction = (typeof ACTIONS)[number];

export const HELP = `Usage: ${PROGRAM} [--socket PATH] -status | -check_for_update | -reset_status | -update | -watch_for_updates

Talk to the update-engine daemon over its control socket.

Commands (one of):
  -status             print the status (LAST_CHECKED_TIME, PROGRESS, CURRENT_OP, NEW_VERSION, NEW_SIZE)
  -check_for_update   start an update check now; returns once the server answered (at most 5 s),
                      printing why when the server holds the update back (rollout policy)
  -reset_status       undo a pending update: the booted slot stays on top, the other slot is disabled
  -update             check now and follow until done: exit 0 when an update was installed (reboot
                      pending) or there was none (or the server holds it back: the reason is
                      printed); 1 when the update failed (update_engine_client's codes)
  -watch_for_updates  print every status change until interrupted; on stderr, the lines
                      update_engine_client logs ("Got status update:" and the five fields)

Options:
  --socket PATH       the daemon's control socket (default: CONTROL_SOCKET of the settings,
                      ${KEY_BY_FIELD.get('controlSocket')?.defaultText ?? ''})
  -h, --help          show this help

gflags spellings work: -status, --status, -status=true, -status true, -nostatus, -socket=PATH.
Only root and members of
CONTROL_GROUP may use the socket. -update and -watch_for_updates show a progress bar on a TTY
and one line per change otherwise.`;

/** gflags spellings (-status, --status, -status=true, -status true, -nostatus, -socket=P, -socket P) to parseArgs' --long form. */
export function normalizeArgv(argv: readonly string[]): string[] {
  return normalizeGflagsArgv(argv, { booleans: [...ACTIONS, 'help'], strings: ['socket'] });
}

/** --socket, else CONTROL_SOCKET of the settings; settings that cannot be read fall back to the default, with a warning. */
async function socketPathFor(option: string | undefined, ctx: CommandContext): Promise<string> {
  if (option !== undefined) return option;
  try {
    return (await loadSettings({ env: ctx.env })).settings.controlSocket;
  } catch (e) {
    const fallback = KEY_BY_FIELD.get('controlSocket')?.defaultText ?? '/run/update-engine/control.sock';
    const reason = (e instanceof Error ? e.message : String(e)).split('\n')[0];
    ctx.stderr.write(`${PROGRAM}: warning: cannot read the settings (${reason}); using the socket "${fallback}"\n`);
    return fallback;
  }
}

function isActive(s: StatusSnapshot): boolean {
  return s.status !== 'UPDATE_STATUS_IDLE' && s.status !== 'UPDATE_STATUS_UPDATED_NEED_REBOOT';
}

/** Rejects when the daemon closes the connection, resolves 'interrupted' on SIGINT/SIGTERM. */
function endOfConnection(client: ControlClient, ctx: CommandContext): Promise<'interrupted'> {
  return new Promise((resolve, reject) => {
    if (ctx.signal.aborted) resolve('interrupted');
    ctx.signal.addEventListener('abort', () => resolve('interrupted'), { once: true });
    void client.closed.then((by) => {
      if (by === 'remote') reject(new UpdateEngineError('ERR_CONTROL_SOCKET', `The update daemon closed the connection on "${client.socketPath}"`));
    });
  });
}

interface UpdateOutcome {
  final: StatusSnapshot;
  /** True when the cycle passed through REPORTING_ERROR_EVENT; `error` is its reason, if the daemon gave one. */
  failed: boolean;
  error: StatusError | null;
  /** True when an update was installed in this cycle (it reached FINALIZING). */
  installed: boolean;
}

async function runUpdate(client: ControlClient, ctx: CommandContext): Promise<number> {
  const view = createStatusView(ctx.stdout);
  let running = false;
  let installed = false;
  let failed = false;
  let error: StatusError | null = null;
  let finish!: (outcome: UpdateOutcome) => void;
  const done = new Promise<UpdateOutcome>((resolve) => (finish = resolve));
  const onSnapshot = (s: StatusSnapshot) => {
    view.show(s);
    if (s.status === 'UPDATE_STATUS_REPORTING_ERROR_EVENT') {
      failed = true;
      error = s.lastError ?? error;
    }
    if (s.status === 'UPDATE_STATUS_FINALIZING') installed = true;
    if (isActive(s)) running = true;
    else if (running) finish({ final: s, failed, error: s.lastError ?? error, installed });
  };
  try {
    await client.watch(onSnapshot);
    const check = await client.check();
    // Not started and nothing running (e.g. checks are disabled): there is nothing to follow.
    if (!check.started && !running) {
      ctx.stderr.write(`${PROGRAM}: ${check.message}\n`);
      return 1;
    }
    const outcome = await Promise.race([done, endOfConnection(client, ctx)]);
    view.stop();
    if (outcome === 'interrupted') return 130;
    return reportOutcome(outcome, ctx);
  } finally {
    view.stop();
  }
}

function reportOutcome({ final, failed, error, installed }: UpdateOutcome, ctx: CommandContext): number {
  if (failed) {
    const reason = error ? `${error.message} (${error.code})` : 'the daemon gave no reason';
    ctx.stderr.write(`${PROGRAM}: Update failed: ${reason}\n`);
    // update_engine_client -update: "Exit status is 0 if the update succeeded, and 1 otherwise."
    return 1;
  }
  if (final.checkNote) println(ctx.stdout, final.checkNote);
  if (final.status === 'UPDATE_STATUS_UPDATED_NEED_REBOOT') {
    println(
      ctx.stdout,
      installed ? `Update to ${final.newVersion} installed; reboot to use it` : `No newer update; ${final.newVersion} is installed and waits for a reboot`,
    );
  } else {
    println(ctx.stdout, 'No update available');
  }
  return 0;
}

/** How long -check_for_update waits for the server's answer before it returns anyway. */
export const CHECK_ANSWER_WAIT_MS = 5000;

/** Starts a check; waits (at most CHECK_ANSWER_WAIT_MS) for the server's answer to say why there is no update. */
async function runCheck(client: ControlClient, ctx: CommandContext): Promise<number> {
  let seenChecking = false;
  let finish!: (s: StatusSnapshot | undefined) => void;
  const answered = new Promise<StatusSnapshot | undefined>((resolve) => (finish = resolve));
  await client.watch((s) => {
    if (s.status === 'UPDATE_STATUS_CHECKING_FOR_UPDATE') seenChecking = true;
    else if (seenChecking) finish(s);
  });
  const check = await client.check();
  println(ctx.stdout, check.message);
  if (!check.started) return 0;
  const timer = setTimeout(() => finish(undefined), CHECK_ANSWER_WAIT_MS);
  try {
    const after = await answered;
    if (after?.checkNote) println(ctx.stdout, after.checkNote);
    else if (after?.lastError) println(ctx.stdout, `The check failed: ${after.lastError.message} (${after.lastError.code})`);
    return 0;
  } finally {
    clearTimeout(timer);
  }
}

async function runWatch(client: ControlClient, ctx: CommandContext): Promise<number> {
  const view = createStatusView(ctx.stdout);
  try {
    await client.watch((s) => {
      view.show(s);
      // update_engine_client logs each StatusUpdate signal with glog to stderr.
      for (const line of glogStatusLines(s)) ctx.stderr.write(`${line}\n`);
    });
    await endOfConnection(client, ctx);
    return 0;
  } finally {
    view.stop();
  }
}

async function perform(action: ClientAction, client: ControlClient, ctx: CommandContext): Promise<number> {
  switch (action) {
    case 'status':
      ctx.stdout.write(formatStatusText(await client.status()));
      return 0;
    case 'check_for_update':
      return runCheck(client, ctx);
    case 'reset_status':
      println(ctx.stdout, (await client.reset()).message);
      return 0;
    case 'update':
      return runUpdate(client, ctx);
    case 'watch_for_updates':
      return runWatch(client, ctx);
  }
}

export const run: Command = async (argv, ctx) => {
  const { values } = parseCommandLine(normalizeArgv(argv), {
    socket: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
    status: { type: 'boolean' },
    check_for_update: { type: 'boolean' },
    reset_status: { type: 'boolean' },
    update: { type: 'boolean' },
    watch_for_updates: { type: 'boolean' },
  });
  if (values.help) {
    println(ctx.stdout, HELP);
    return 0;
  }
  const chosen = ACTIONS.filter((a) => values[a] === true);
  if (chosen.length !== 1) {
    throw usageError(
      chosen.length === 0
        ? 'Give one of -status, -check_for_update, -reset_status, -update, -watch_for_updates'
        : `Give only one command, not ${chosen.map((a) => `-${a}`).join(' and ')}`,
    );
  }
  const action = chosen[0] as ClientAction;
  try {
    const client = await ControlClient.connect(await socketPathFor(values.socket, ctx));
    try {
      return await perform(action, client, ctx);
    } finally {
      client.close();
    }
  } catch (e) {
    // update_engine_client -update exits 1 for every failure (the daemon unreachable included).
    if (action !== 'update' || !(e instanceof UpdateEngineError)) throw e;
    ctx.stderr.write(`${PROGRAM}: ${e.message}\n`);
    return 1;
  }
};

main(PROGRAM, run);
