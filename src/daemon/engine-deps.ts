// The ports the update engine works through. Only the composition root (main.ts) builds the real
// adapters; tests build the same object around image files, a local Omaha server and fakes.

import type { Settings } from '../config/schema.ts';
import type { Clock } from '../platform/clock.ts';
import type { Logger } from '../platform/logger.ts';
import type { OmahaClient } from '../omaha/omaha-client.ts';
import type { HttpTransport } from '../omaha/http-transport.ts';
import type { Keyring } from '../payload/keyring.ts';
import type { WriteTarget } from '../io/write-target.ts';
import type { ClosableSeed } from '../payload/seed-source.ts';
import type { Slot } from '../slots/index.ts';
import type { RebootStrategy } from '../reboot/reboot-strategy.ts';
import type { Rebooter } from '../reboot/rebooter.ts';
import type { InstallStepInput } from '../install/install-step.ts';
import type { StateStore, NeedRebootMarkerFile } from './state-store.ts';
import type { BootBackend } from '../boot/boot-backend.ts';
import { createBootBackend } from '../boot/create-boot-backend.ts';

/** Runs HEALTH_CHECK until it passes or HEALTH_TIMEOUT; true when it passed (or none is set). */
export type HealthGate = (signal: AbortSignal) => Promise<boolean>;

/** Who this machine is, for Omaha and the lock. */
export interface EngineIdentity {
  machineId: string;
  bootId: string;
  /** ID and VERSION_ID of the OEM release file (/etc/oem-release, else /usr/share/oem/oem-release), as update_engine sends them. */
  oem?: string | undefined;
  oemVersion?: string | undefined;
}

export interface EngineDeps {
  settings: Settings;
  identity: EngineIdentity;
  clock: Clock;
  logger: Logger;
  /** Undefined when SERVER=disabled. */
  omaha: OmahaClient | undefined;
  /** For the payload download. */
  transport: HttpTransport;
  /** Loaded when needed (keys may be rotated between cycles). */
  loadKeyring(): Promise<Keyring>;
  state: StateStore;
  needReboot: NeedRebootMarkerFile;
  /** Finds the disk, the booted and the passive partition (DISK / BOOTED_PARTITION, else detection). */
  detectSlots(): Promise<{ disk: string; bootedPartition: number; passivePartition: number }>;
  /** The write target for a slot (throttled per IO_WRITE_BPS). */
  openTarget(disk: string, slot: Slot): Promise<WriteTarget>;
  /** Optional: the booted slot opened read-only, the seed of a delta apply (DELTA). */
  openSeed?(disk: string, slot: Slot): Promise<ClosableSeed>;
  /** REBOOT_STRATEGY: windows, the lock, and when to let go of it (src/reboot). */
  reboot: RebootStrategy;
  rebooter: Rebooter;
  healthGate: HealthGate;
  /** Optional hooks into the post-install step (the crash bench kills the daemon in the kernel copy or the postinst). */
  installHooks?: InstallStepInput['hooks'];
  /** BOOT_BACKEND: what the bootloader reads (default: built from the settings, gptprio). */
  boot?: BootBackend;
  /** Optional observer of figures (metrics). */
  metrics?: EngineMetrics;
}

/** What the engine reports for metrics (src/daemon/metrics.ts implements it with prom-client). */
export interface EngineMetrics {
  checkFinished(result: 'update' | 'noupdate' | 'error' | 'deferred' | 'refused', offeredVersion?: string): void;
  /** Optional: the server refused the check (rollout policy, or an update it counts as in progress); reason = its app status. */
  checkRefused?(reason: string): void;
  bytesDownloaded(bytes: number): void;
  bytesWritten(bytes: number): void;
  /** Optional: image bytes a delta apply copied from the booted slot instead of downloading them. */
  bytesReused?(bytes: number): void;
  error(code: string): void;
  phase(name: string, seconds: number): void;
  /** Optional: the IO_WRITE_BPS mechanism chosen for this apply and its limit (after createWriteThrottle). */
  writeThrottle?(mechanism: 'none' | 'cgroup-v2' | 'cgroup-v1' | 'token-bucket', bytesPerSecond: number): void;
  /** Optional: a wait for the reboot lock began. */
  lockWaitStarted?(): void;
  /** Optional: the wait for the reboot lock ended. */
  lockWaitFinished?(outcome: 'acquired' | 'cancelled' | 'error'): void;
  /** Optional: whether this machine holds the reboot lock now. */
  lockHeld?(held: boolean): void;
  /** Optional: the semaphore as last read: how many machines hold it, and its max. */
  lockHolders?(holders: number, max: number): void;
  /** Optional: whether a version is halted by the fleet circuit breaker, as last read. */
  fleetHalted?(version: string, halted: boolean): void;
}

/** The boot backend of `deps`: the one given, else the one BOOT_BACKEND names. */
export function bootBackendOf(deps: Pick<EngineDeps, 'settings' | 'boot'>): BootBackend {
  deps.boot ??= createBootBackend(deps.settings);
  return deps.boot;
}
