// The update engine: one status, one cycle at a time (update cycles, the reboot hand-over and
// resets never overlap), the post-boot cycle at start, and the control socket's handler.

import { UpdateEngineError, isUpdateEngineError } from '../errors.ts';
import type { InstallSource } from '../omaha/request-builder.ts';
import { readSlots } from '../slots/index.ts';
import { undoPendingUpdate } from './pending-update.ts';
import { assessBoot } from './boot-assessment.ts';
import type { CheckResult as ControlCheckResult, ControlHandler, NeedRebootResult, ResetResult } from './control-protocol.ts';
import type { EngineDeps } from './engine-deps.ts';
import { abandonHaltedUpdate, writePendingFailure } from './fleet-halt.ts';
import { OmahaReporter } from './omaha-reporter.ts';
import { releaseLock, runPostBoot, type PostBootOutcome } from './post-boot-cycle.ts';
import { StatusMachine, type StatusSnapshot } from './status.ts';
import { UpdateCycle, type CycleOutcome } from './update-cycle.ts';

export class UpdateEngine implements ControlHandler {
  readonly machine: StatusMachine;
  private readonly reporter: OmahaReporter;
  private readonly cycle: UpdateCycle;
  /** The running cycle, reset or reboot hand-over: they never overlap. */
  private busy: Promise<unknown> | undefined;
  /** Waiting for permission to reboot (window, lock); aborted when a newer update replaces the pending one. */
  private rebootWait: AbortController | undefined;
  /** Asks the owner (daemon loop) to run an on-demand check; set by the daemon. */
  onCheckRequested: (() => 'started' | 'busy' | 'stopped') | undefined;
  /** Starts the reboot hand-over (window, lock, REBOOT_COMMAND); set by the daemon. */
  onRebootNeeded: (() => void) | undefined;

  private constructor(
    private readonly deps: EngineDeps,
    initial: Partial<StatusSnapshot>,
  ) {
    this.machine = new StatusMachine(initial);
    this.reporter = new OmahaReporter(deps);
    this.cycle = new UpdateCycle(deps, this.machine, this.reporter);
    this.machine.onChange((snap, prev) => {
      if (snap.status !== prev.status) deps.logger.info({ from: prev.status, to: snap.status }, 'status changed');
    });
  }

  /** Loads the state, repairs nothing but what the GPT reader flags, and settles the boot situation. */
  static async start(deps: EngineDeps, signal: AbortSignal): Promise<{ engine: UpdateEngine; postBoot: PostBootOutcome }> {
    const { state, movedAsideTo } = await deps.state.load();
    if (movedAsideTo) deps.logger.warn({ movedAsideTo }, 'The state file was corrupt; it was moved aside and the daemon starts fresh');
    const situation = await assessBoot(deps);
    const postBoot = await runPostBoot(deps, situation, signal);
    const pending = (await deps.state.read()).pendingUpdate;
    const initial: Partial<StatusSnapshot> =
      postBoot.kind === 'need-reboot' && pending
        ? { status: 'UPDATE_STATUS_UPDATED_NEED_REBOOT', newVersion: pending.version, newSizeBytes: pending.sizeBytes, progress: 1 }
        : {};
    if (state.lastCheckTimeMs !== undefined) initial.lastCheckedTimeSeconds = Math.floor(state.lastCheckTimeMs / 1000);
    const engine = new UpdateEngine(deps, initial);
    // 3/2 at the true moment: the new slot passed the health gate and is marked good (or 44 after a
    // rollback). In the background, so that an unreachable server does not hold up the control socket;
    // as an exclusive step, so that the first update check waits for it.
    if (postBoot.kind === 'marked-good' || postBoot.kind === 'rolled-back') {
      void engine
        .exclusive(() => engine.reporter.reportBootOutcome(signal))
        .catch((e: unknown) => deps.logger.warn({ err: e }, 'Cannot report the boot outcome now; the next update check carries it'));
    }
    return { engine, postBoot };
  }

  get isBusy(): boolean {
    return this.busy !== undefined;
  }

  /** Runs one update cycle (check, then update when offered). Returns 'busy' without running when one is running. */
  async runCycle(installSource: InstallSource, signal: AbortSignal): Promise<CycleOutcome> {
    if (this.deps.omaha === undefined) return { kind: 'noupdate' };
    return this.exclusive(async () => {
      if ((await this.deps.state.read()).fleetFailurePending) await writePendingFailure(this.deps, signal);
      if ((await this.deps.state.read()).releaseLockPending && this.machine.status === 'UPDATE_STATUS_IDLE') {
        await releaseLock(this.deps, () => this.deps.reboot.atStart({ signal, logger: this.deps.logger }, 'idle'));
      }
      const outcome = await this.cycle.run(installSource, signal);
      if (outcome.kind === 'updated') this.rebootWait?.abort(new UpdateEngineError('ERR_ABORTED', 'A newer update replaced the pending one'));
      return outcome;
    });
  }

  /** After a flip: waits for the strategy's permission (window, lock), then reboots. 'stay' for REBOOT_STRATEGY=off. */
  async handOverToReboot(signal: AbortSignal): Promise<'rebooted' | 'stay' | 'cancelled' | 'halted'> {
    if (this.machine.status !== 'UPDATE_STATUS_UPDATED_NEED_REBOOT') return 'cancelled';
    this.rebootWait?.abort();
    const wait = new AbortController();
    this.rebootWait = wait;
    const both = AbortSignal.any([signal, wait.signal]);
    this.deps.logger.info({ strategy: this.deps.reboot.label }, 'Update installed; handing over to the reboot strategy');
    let decision: 'reboot' | 'stay';
    try {
      this.deps.metrics?.lockWaitStarted?.();
      const version = (await this.deps.state.read()).pendingUpdate?.version;
      decision = await this.deps.reboot.beforeReboot({ signal: both, logger: this.deps.logger, version });
      this.deps.metrics?.lockWaitFinished?.('acquired');
      this.deps.metrics?.lockHeld?.(await this.deps.reboot.lockHeld());
    } catch (e) {
      this.deps.metrics?.lockWaitFinished?.(both.aborted ? 'cancelled' : 'error');
      if (both.aborted) return 'cancelled';
      if (isUpdateEngineError(e) && e.code === 'ERR_FLEET_HALTED') {
        // The fleet circuit breaker halted this version: undo the flip instead of rebooting into it.
        await this.exclusive(() => abandonHaltedUpdate(this.deps, this.machine, this.reporter, e));
        this.deps.metrics?.lockHeld?.(await this.deps.reboot.lockHeld().catch(() => false));
        return 'halted';
      }
      throw e;
    } finally {
      if (this.rebootWait === wait) this.rebootWait = undefined;
    }
    if (decision === 'stay') return 'stay';
    return this.exclusive(async () => {
      if (this.machine.status !== 'UPDATE_STATUS_UPDATED_NEED_REBOOT') return 'cancelled';
      await this.deps.rebooter.reboot(`update-engine: rebooting into version ${this.machine.snapshot().newVersion}`, signal);
      return 'rebooted';
    });
  }

  // ---- ControlHandler ----

  status(): StatusSnapshot {
    return this.machine.snapshot();
  }

  check(): ControlCheckResult {
    if (this.deps.omaha === undefined) return { started: false, message: 'Update checks are off (SERVER=disabled)' };
    const answer = this.onCheckRequested?.() ?? 'stopped';
    if (answer === 'started') return { started: true, message: 'Update check started' };
    if (answer === 'busy') return { started: false, message: 'An update check or update is already running' };
    return { started: false, message: 'The daemon is shutting down' };
  }

  async reset(): Promise<ResetResult> {
    if (this.busy) throw new UpdateEngineError('ERR_UPDATE_IN_PROGRESS', 'An update check or update is running; try again when it is done');
    return this.exclusive(async () => {
      const state = await this.deps.state.read();
      const pending = state.pendingUpdate;
      let message: string;
      if (pending) {
        this.rebootWait?.abort(new UpdateEngineError('ERR_ABORTED', 'The pending update was reset'));
        const { disk, bootedPartition } = await this.deps.detectSlots();
        await undoPendingUpdate(this.deps, disk, bootedPartition, pending.partition);
        const table = await readSlots(disk, {
          slotAPartition: this.deps.settings.slotAPartition,
          slotBPartition: this.deps.settings.slotBPartition,
          slotTypeGuid: this.deps.settings.slotType,
        });
        const label = table.usrSlots.find((s) => s.partition === bootedPartition)?.label ?? `partition ${bootedPartition}`;
        message = `Pending update to ${pending.version} undone; slot ${label} stays active`;
      } else {
        message = 'No update pending; failure counts and remembered failed versions cleared';
      }
      await this.deps.state.update((st) => {
        const next = { ...st, failedVersions: {}, failureCount: 0 };
        delete next.backoffUntilMs;
        delete next.reportRollback;
        if (pending) delete next.previousVersion;
        return next;
      });
      if (pending) {
        await this.deps.reboot.atStart({ signal: new AbortController().signal, logger: this.deps.logger }, 'idle');
        this.deps.metrics?.lockHeld?.(await this.deps.reboot.lockHeld());
      }
      if (this.machine.status === 'UPDATE_STATUS_UPDATED_NEED_REBOOT') this.machine.transition('UPDATE_STATUS_IDLE');
      else this.machine.update({ lastError: null });
      this.deps.logger.info(message);
      return { message, snapshot: this.machine.snapshot() };
    });
  }

  /** locksmithctl send-need-reboot: UPDATED_NEED_REBOOT without an update, then the reboot strategy. */
  needReboot(): NeedRebootResult {
    const status = this.machine.status;
    if (status === 'UPDATE_STATUS_UPDATED_NEED_REBOOT') return { message: 'A reboot is already needed; the reboot strategy is handling it' };
    if (status !== 'UPDATE_STATUS_IDLE' || this.busy)
      throw new UpdateEngineError('ERR_UPDATE_IN_PROGRESS', `Cannot ask for a reboot while an update runs (status ${status})`);
    if (!this.onRebootNeeded)
      throw new UpdateEngineError('ERR_UPDATE_IN_PROGRESS', 'The daemon is not running its reboot strategy (it runs --once or is shutting down)');
    this.machine.transition('UPDATE_STATUS_UPDATED_NEED_REBOOT');
    this.deps.logger.info({ strategy: this.deps.reboot.label }, 'A reboot was asked for (locksmithctl send-need-reboot)');
    this.onRebootNeeded();
    return { message: `Reboot needed: REBOOT_STRATEGY=${this.deps.settings.rebootStrategy} takes it from here` };
  }

  watch(listener: (snapshot: StatusSnapshot) => void): () => void {
    return this.machine.onChange((snap) => listener(snap));
  }

  private async exclusive<T>(work: () => Promise<T>): Promise<T> {
    while (this.busy) await this.busy.catch(() => undefined);
    const run = work();
    this.busy = run;
    try {
      return await run;
    } finally {
      if (this.busy === run) this.busy = undefined;
    }
  }
}
