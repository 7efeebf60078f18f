// A small fleet for the circuit breaker: N lab machines (own disk image, state, identity and boot
// simulator each) running the real daemon (--once, etcd-lock) against one dev Omaha server and a real
// etcd; a reboot is the lab's boot simulator. Records a timeline (machine, time, what happened).
// Shared by test/daemon/fleet-breaker.test.ts and bench/fleet/breaker.ts.

import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UpdateLab } from '../../src/demo/lab.ts';
import { runDaemon } from '../../src/daemon/main.ts';
import type { PersistedState } from '../../src/daemon/state-store.ts';
import { silentLogger } from '../../src/platform/logger.ts';
import { RecordingRebooter } from '../fakes/recording-rebooter.ts';

export type FleetEventKind = 'rebooting' | 'downloading' | 'need-reboot' | 'boot' | 'health-failed' | 'rolled-back' | 'halted' | 'marked-good' | 'idle';

export interface FleetEvent {
  /** ms since the scenario's start. */
  atMs: number;
  machine: number;
  kind: FleetEventKind;
  /** The version concerned (booted, downloading, pending...). */
  version: string;
}

export interface FleetOptions {
  dir: string;
  machines: number;
  initialVersion: string;
  etcdEndpoints: string[];
  group: string;
  /** Whether a machine's health check passes on a version. */
  healthy: (machine: number, version: string) => boolean;
  /** How long a simulated reboot takes (the machine is down), default 0. */
  rebootMs?: number;
  /** How long the health check runs before it answers, default 0. */
  healthCheckMs?: number;
}

export class FleetScenario {
  readonly labs: UpdateLab[] = [];
  readonly server: UpdateLab;
  readonly events: FleetEvent[] = [];
  private startMs = performance.now();

  constructor(readonly options: FleetOptions) {
    const small = { initialVersion: options.initialVersion, usrSizeBytes: 8 * 1024 * 1024, imageSizeBytes: 2 * 1024 * 1024 };
    this.server = new UpdateLab({ dir: join(options.dir, 'server'), ...small });
    for (let i = 0; i < options.machines; i++) this.labs.push(new UpdateLab({ dir: join(options.dir, `m${i}`), ...small }));
  }

  async setUp(): Promise<void> {
    for (const lab of [this.server, ...this.labs]) {
      await mkdir(lab.options.dir, { recursive: true });
      await lab.setUp();
    }
  }

  /** Publishes a version on the (restarted) Omaha server. */
  async publish(version: string): Promise<void> {
    await this.server.addPayload(version);
    await this.server.serve();
  }

  private note(machine: number, kind: FleetEventKind, version: string): void {
    this.events.push({ atMs: Math.round(performance.now() - this.startMs), machine, kind, version });
  }

  /** Starts the timeline (ms 0) now. */
  restartClock(): void {
    this.startMs = performance.now();
  }

  /** Milliseconds since the scenario started. */
  now(): number {
    return performance.now() - this.startMs;
  }

  /** One daemon run (--once) on machine i; true when it asked for a reboot. */
  private async runOnce(i: number): Promise<boolean> {
    const lab = this.labs[i] as UpdateLab;
    const booted = lab.slotVersions.get(lab.booted) ?? this.options.initialVersion;
    const rebooter = new RecordingRebooter();
    const settings = lab.settings({
      server: this.server.server?.updateUrl ?? 'disabled',
      rebootStrategy: 'etcd-lock',
      etcdEndpoints: this.options.etcdEndpoints.join(','),
      lockGroup: this.options.group,
    });
    await runDaemon(settings, {
      once: true,
      logger: silentLogger(),
      signal: new AbortController().signal,
      identityPaths: lab.identityPaths(),
      overrides: {
        rebooter,
        healthGate: async () => {
          if (this.options.healthCheckMs) await new Promise((r) => setTimeout(r, this.options.healthCheckMs));
          const ok = this.options.healthy(i, booted);
          this.note(i, ok ? 'marked-good' : 'health-failed', booted);
          return ok;
        },
      },
      onEngine: (engine) => {
        engine.watch((snap) => {
          if (snap.status === 'UPDATE_STATUS_DOWNLOADING') this.note(i, 'downloading', snap.newVersion);
          if (snap.status === 'UPDATE_STATUS_UPDATED_NEED_REBOOT') this.note(i, 'need-reboot', snap.newVersion);
          if (snap.status === 'UPDATE_STATUS_IDLE' && snap.lastError?.code === 'ERR_FLEET_HALTED') {
            this.note(i, 'halted', this.events.findLast((e) => e.machine === i && e.kind === 'need-reboot')?.version ?? '?');
          }
        });
      },
    }).catch(() => 1);
    return rebooter.reasons.length > 0;
  }

  /** Runs machine i until it settles (no reboot asked for): daemon run, reboot, daemon run... */
  async settle(i: number): Promise<void> {
    const lab = this.labs[i] as UpdateLab;
    while (await this.runOnce(i)) {
      // A reboot asked for by a failed health check ends on the old slot (the bootloader falls back).
      const fallingBack = this.events.findLast((e) => e.machine === i)?.kind === 'health-failed';
      this.note(i, 'rebooting', this.bootedVersion(i));
      if (this.options.rebootMs) await new Promise((r) => setTimeout(r, this.options.rebootMs));
      const choice = await lab.reboot();
      this.note(i, fallingBack ? 'rolled-back' : 'boot', lab.slotVersions.get(choice.partition) ?? '?');
    }
    this.note(i, 'idle', this.bootedVersion(i));
  }

  /** Every machine at once until all have settled. */
  async settleAll(): Promise<void> {
    await Promise.all(this.labs.map((_, i) => this.settle(i)));
  }

  bootedVersion(i: number): string {
    const lab = this.labs[i] as UpdateLab;
    return lab.slotVersions.get(lab.booted) ?? this.options.initialVersion;
  }

  async state(i: number): Promise<PersistedState> {
    return JSON.parse(await readFile(join((this.labs[i] as UpdateLab).stateDir, 'state.json'), 'utf8')) as PersistedState;
  }

  /** Resolves once `condition` holds (checked every 50 ms); rejects after `timeoutMs`. */
  async until(condition: () => boolean, timeoutMs = 60_000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (!condition()) {
      if (performance.now() > deadline) throw new Error(`Fleet condition not met within ${timeoutMs} ms; events: ${JSON.stringify(this.events)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Machines that ever booted `version` (a 'boot' event of it). */
  bootedEver(version: string): number[] {
    return [...new Set(this.events.filter((e) => e.kind === 'boot' && e.version === version).map((e) => e.machine))];
  }

  async close(): Promise<void> {
    await this.server.close();
  }
}
