// A ControlHandler for tests: a real StatusMachine driven by a scripted update cycle (update, no
// update, or failure), stepping on timers so that clients see the statuses one by one.

import { UpdateEngineError } from '../../src/errors.ts';
import type { CheckResult, ControlHandler, ResetResult } from '../../src/daemon/control-protocol.ts';
import { StatusMachine, type StatusSnapshot, type UpdateStatus } from '../../src/daemon/status.ts';

export type CycleScript = 'update' | 'no-update' | 'error' | 'refused';

const S = (name: string) => `UPDATE_STATUS_${name}` as UpdateStatus;

export class FakeControlHandler implements ControlHandler {
  readonly machine: StatusMachine;
  script: CycleScript = 'update';
  /** Milliseconds between steps of the scripted cycle. */
  stepMs = 5;
  checks = 0;
  resets = 0;
  listeners = 0;
  /** When set, status() throws this. */
  statusError: Error | undefined;
  #busy = false;

  constructor(initial: Partial<StatusSnapshot> = {}) {
    this.machine = new StatusMachine(initial);
  }

  status(): StatusSnapshot {
    if (this.statusError) throw this.statusError;
    return this.machine.snapshot();
  }

  check(): CheckResult {
    if (this.#busy) return { started: false, message: 'An update check is already running' };
    this.checks += 1;
    this.#busy = true;
    void this.#runCycle().finally(() => {
      this.#busy = false;
    });
    return { started: true, message: 'Update check started' };
  }

  reset(): ResetResult {
    if (this.#busy) throw new UpdateEngineError('ERR_UPDATE_IN_PROGRESS', `Cannot reset while an update runs (status ${this.machine.status})`);
    if (this.machine.status !== S('UPDATED_NEED_REBOOT')) return { message: 'Nothing to reset: no update is pending', snapshot: this.machine.snapshot() };
    this.resets += 1;
    const snapshot = this.machine.transition(S('IDLE'));
    return { message: 'Pending update undone; the booted slot stays active', snapshot };
  }

  watch(listener: (snapshot: StatusSnapshot) => void): () => void {
    this.listeners += 1;
    const off = this.machine.onChange((snapshot) => listener(snapshot));
    return () => {
      this.listeners -= 1;
      off();
    };
  }

  async #step(to: UpdateStatus, changes: Parameters<StatusMachine['transition']>[1] = {}): Promise<void> {
    await new Promise((r) => setTimeout(r, this.stepMs));
    this.machine.transition(to, changes);
  }

  async #runCycle(): Promise<void> {
    const checkedAt = 1_700_000_000;
    await this.#step(S('CHECKING_FOR_UPDATE'));
    if (this.script === 'refused') {
      await this.#step(S('IDLE'), {
        lastCheckedTimeSeconds: checkedAt,
        checkNote:
          "The server holds the update back (error-maxConcurrentUpdatesLimitReached): the group's limit of concurrent updates is reached; the next check comes at the normal time",
      });
      return;
    }
    if (this.script === 'no-update') {
      const back = this.machine.snapshot().newVersion === '0.0.0' ? S('IDLE') : S('UPDATED_NEED_REBOOT');
      await this.#step(back, { lastCheckedTimeSeconds: checkedAt });
      return;
    }
    await this.#step(S('UPDATE_AVAILABLE'), { newVersion: '2.0.0', newSizeBytes: 4096, lastCheckedTimeSeconds: checkedAt });
    await this.#step(S('DOWNLOADING'));
    for (const progress of [0.25, 0.5, 0.75, 1]) {
      await new Promise((r) => setTimeout(r, this.stepMs));
      this.machine.update({ progress, currentOperation: `downloading ${progress * 4096} of 4096 bytes` });
    }
    if (this.script === 'error') {
      await this.#step(S('REPORTING_ERROR_EVENT'), {
        lastError: { code: 'ERR_PAYLOAD_SIGNATURE', message: 'No signature of the payload verifies with a trusted key' },
      });
      await this.#step(S('IDLE'));
      return;
    }
    await this.#step(S('VERIFYING'));
    await this.#step(S('FINALIZING'));
    await this.#step(S('UPDATED_NEED_REBOOT'));
  }
}
