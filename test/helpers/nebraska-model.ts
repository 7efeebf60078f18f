// An in-memory model of Nebraska's instance statuses, event handling and rollout policy, built from
// its code (flatcar/nebraska backend/pkg): omaha.go buildOmahaResponse/getStatusMessageStr,
// api/updates.go GetUpdatePackage/enforceRolloutPolicy, api/instances.go RegisterInstance/grantUpdate/
// updateInstanceData, runtime RegisterEvent/triggerEventConsequences, dbreads GetGroupUpdatesStats.

import type { ReceivedApp, ReceivedEvent } from '../../src/omaha/request-parser.ts';
import type { DevDecision } from '../../src/omaha/dev-server.ts';
import { compareVersions, isVersion } from '../../src/config/values.ts';

/** types/instance.go: InstanceStatusUndefined = 1 + iota ... */
export const STATUS = { undefined: 1, updateGranted: 2, error: 3, complete: 4, installed: 5, downloaded: 6, downloading: 7, onHold: 8 } as const;
export const STATUS_NAME: Record<number, string> = Object.fromEntries(Object.entries(STATUS).map(([k, v]) => [v, k]));
export const FLATCAR_APP_ID = 'e96281a6-d1af-4bde-9a0a-97b76e56dc57';
/** The event_type table (type, result) Nebraska accepts; anything else is ErrInvalidEventTypeOrResult. */
const EVENT_TYPES = new Set(['3/0', '3/1', '3/2', '13/1', '14/1', '800/1']);
const MAX_PARALLEL_UPDATES = 900000;

export interface GroupPolicy {
  /** policy_updates_enabled */
  updatesEnabled: boolean;
  /** policy_safe_mode */
  safeMode: boolean;
  /** policy_max_updates_per_period: also the limit of concurrent updates. */
  maxUpdatesPerPeriod: number;
  /** policy_period_interval, ms */
  periodMs: number;
  /** policy_update_timeout, ms */
  updateTimeoutMs: number;
}

export interface InstanceApp {
  machineId: string;
  appId: string;
  version: string;
  status: number | undefined;
  lastUpdateVersion: string | undefined;
  lastUpdateGrantedMs: number | undefined;
  updateInProgress: boolean;
}

/** One event as posted, and what Nebraska did with it. */
export interface EventRecord {
  machineId: string;
  appId: string;
  event: string;
  previousVersion?: string;
  errorCode?: number;
  /** undefined: recorded; else the Go error it returned (the event is then not recorded). */
  rejected?: string;
}

export interface StatusRecord {
  machineId: string;
  appId: string;
  status: string;
  version: string | undefined;
}

const normalize = (appId: string) =>
  appId
    .trim()
    .replace(/^\{|\}$/g, '')
    .toLowerCase();
const lt = (a: string, b: string) => isVersion(a) && isVersion(b) && compareVersions(a, b) < 0;

export class NebraskaModel {
  readonly instances = new Map<string, InstanceApp>();
  readonly events: EventRecord[] = [];
  /** instance_status_history, in order. */
  readonly history: StatusRecord[] = [];
  /** Status strings sent for refused or failed checks, in order. */
  readonly refusals: Array<{ machineId: string; reason: string }> = [];
  /** The most instances with update_in_progress at any moment. */
  maxInProgressSeen = 0;

  constructor(readonly options: { appId: string; track: string; packageVersion: () => string | undefined; policy: GroupPolicy; now?: () => number }) {}

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }

  instance(machineId: string, appId = this.options.appId): InstanceApp | undefined {
    return this.instances.get(`${machineId}|${normalize(appId)}`);
  }

  /** buildOmahaResponse for one app: app and group lookup, events, ping, updatecheck. */
  answer(app: ReceivedApp): DevDecision {
    const appId = normalize(app.appId);
    // GetAppID / GetGroupID fail with errors getStatusMessageStr does not list.
    if (appId !== normalize(this.options.appId) || app.track !== this.options.track) return this.refuse(app, 'error-failedToRetrieveUpdatePackageInfo');
    for (const e of app.events) this.registerEvent(app.machineId, appId, e);
    if (app.ping) this.registerInstance(app.machineId, appId, app.version);
    if (!app.updateCheck) return { kind: 'noupdate' };
    const result = this.getUpdatePackage(app.machineId, appId, app.version);
    if (result === 'offer' || result === 'noupdate') return { kind: result };
    return this.refuse(app, result);
  }

  private refuse(app: ReceivedApp, reason: string): DevDecision {
    this.refusals.push({ machineId: app.machineId, reason });
    return { kind: 'error', reason };
  }

  /** RegisterInstance: upsert; the version must be semver. */
  private registerInstance(machineId: string, appId: string, version: string): InstanceApp | undefined {
    if (!isVersion(version)) return undefined;
    const key = `${machineId}|${appId}`;
    const existing = this.instances.get(key);
    if (existing) {
      existing.version = version;
      return existing;
    }
    const created: InstanceApp = {
      machineId,
      appId,
      version,
      status: undefined,
      lastUpdateVersion: undefined,
      lastUpdateGrantedMs: undefined,
      updateInProgress: false,
    };
    this.instances.set(key, created);
    return created;
  }

  /** updateInstanceData: same status is a no-op; complete takes last_update_version; four statuses end the update. */
  private setStatus(inst: InstanceApp, status: number, extra: Partial<InstanceApp> = {}): void {
    if (inst.status === status) return;
    Object.assign(inst, extra);
    if (status === STATUS.complete) inst.version = inst.lastUpdateVersion ?? inst.version;
    if (status === STATUS.complete || status === STATUS.error || status === STATUS.undefined || status === STATUS.onHold) inst.updateInProgress = false;
    inst.status = status;
    this.maxInProgressSeen = Math.max(this.maxInProgressSeen, [...this.instances.values()].filter((i) => i.updateInProgress).length);
    this.history.push({ machineId: inst.machineId, appId: inst.appId, status: STATUS_NAME[status] as string, version: inst.lastUpdateVersion });
  }

  /** RegisterEvent + triggerEventConsequences. */
  private registerEvent(machineId: string, appId: string, e: ReceivedEvent): void {
    const event = `${e.eventType}/${e.eventResult}`;
    const record: EventRecord = {
      machineId,
      appId,
      event,
      ...(e.previousVersion !== undefined ? { previousVersion: e.previousVersion } : {}),
      ...(e.errorCode !== undefined ? { errorCode: e.errorCode } : {}),
    };
    this.events.push(record);
    const inst = this.instances.get(`${machineId}|${appId}`);
    if (!inst) return void (record.rejected = 'ErrInvalidInstance');
    if (!inst.updateInProgress) return void (record.rejected = 'ErrNoUpdateInProgress');
    if (appId === FLATCAR_APP_ID && event === '3/2' && (e.previousVersion === '' || e.previousVersion === '0.0.0.0' || e.previousVersion === undefined)) {
      this.setStatus(inst, STATUS.undefined);
      return void (record.rejected = 'ErrFlatcarEventIgnored');
    }
    if (!EVENT_TYPES.has(event)) return void (record.rejected = 'ErrInvalidEventTypeOrResult');
    if (event === '3/2' || (appId !== FLATCAR_APP_ID && event === '3/1')) this.setStatus(inst, STATUS.complete);
    if (event === '13/1') this.setStatus(inst, STATUS.downloading);
    if (event === '14/1') this.setStatus(inst, STATUS.downloaded);
    if (event === '800/1') this.setStatus(inst, STATUS.installed);
    if (e.eventResult === 0) this.setStatus(inst, STATUS.error);
  }

  /** GetUpdatePackage: 'offer', 'noupdate' or the app status string of the error. */
  private getUpdatePackage(machineId: string, appId: string, version: string): 'offer' | 'noupdate' | string {
    const inst = this.registerInstance(machineId, appId, version);
    if (!inst) return 'error-instanceRegistrationFailed';
    if (inst.status === STATUS.downloading || inst.status === STATUS.downloaded || inst.status === STATUS.installed) return 'error-updateInProgressOnInstance';
    const pkg = this.options.packageVersion();
    if (pkg === undefined) return 'error-noPackageFound';
    if (inst.status === STATUS.updateGranted) {
      if (inst.lastUpdateVersion !== undefined) {
        if (!lt(version, inst.lastUpdateVersion)) {
          this.setStatus(inst, STATUS.complete);
          return 'noupdate';
        }
        return 'offer';
      }
      this.setStatus(inst, STATUS.complete);
      return 'noupdate';
    }
    if (!lt(version, pkg)) return 'noupdate';
    const refusal = this.enforceRolloutPolicy(inst, pkg);
    if (refusal) return refusal;
    // grantUpdate
    this.setStatus(inst, STATUS.updateGranted, { lastUpdateGrantedMs: this.now(), lastUpdateVersion: pkg, updateInProgress: true });
    return 'offer';
  }

  /** GetGroupUpdatesStats over the group's instances. */
  stats(pkg: string) {
    const now = this.now();
    const { periodMs, updateTimeoutMs } = this.options.policy;
    const all = [...this.instances.values()];
    const granted = (i: InstanceApp) => i.lastUpdateGrantedMs ?? -Infinity;
    return {
      totalInstances: all.length,
      updatesToCurrentVersionAttempted: all.filter((i) => !i.updateInProgress && i.lastUpdateVersion === pkg).length,
      updatesToCurrentVersionSucceeded: all.filter((i) => !i.updateInProgress && i.lastUpdateVersion === pkg && i.version === pkg).length,
      updatesGrantedInLastPeriod: all.filter((i) => granted(i) > now - periodMs).length,
      updatesInProgress: all.filter((i) => i.updateInProgress && now - granted(i) <= updateTimeoutMs).length,
      updatesTimedOut: all.filter((i) => i.updateInProgress && now - granted(i) > updateTimeoutMs).length,
    };
  }

  private enforceRolloutPolicy(inst: InstanceApp, pkg: string): string | undefined {
    const policy = this.options.policy;
    if (!policy.updatesEnabled) return 'error-updatesDisabled';
    let effectiveMax = policy.maxUpdatesPerPeriod;
    if (effectiveMax >= MAX_PARALLEL_UPDATES && !policy.safeMode) return undefined;
    const stats = this.stats(pkg);
    if (policy.safeMode && stats.updatesToCurrentVersionAttempted === 0) effectiveMax = 1;
    if (stats.updatesGrantedInLastPeriod >= effectiveMax) {
      this.setStatus(inst, STATUS.onHold);
      return 'error-maxUpdatesPerPeriodLimitReached';
    }
    if (stats.updatesInProgress >= effectiveMax) {
      this.setStatus(inst, STATUS.onHold);
      return 'error-maxConcurrentUpdatesLimitReached';
    }
    if (policy.safeMode && stats.updatesTimedOut >= effectiveMax) {
      policy.updatesEnabled = false;
      this.setStatus(inst, STATUS.onHold);
      return 'error-maxTimedOutUpdatesLimitReached';
    }
    return undefined;
  }

  /** The recorded events and statuses of one machine, e.g. ["13/1", "14/1", "800/1", "3/2"] and ["updateGranted", ...]. */
  timeline(machineId: string): { events: string[]; statuses: string[] } {
    return {
      events: this.events
        .filter((e) => e.machineId === machineId && e.rejected === undefined)
        .map((e) => (e.errorCode !== undefined ? `${e.event}(${e.errorCode})` : e.event)),
      statuses: this.history.filter((h) => h.machineId === machineId).map((h) => h.status),
    };
  }
}
