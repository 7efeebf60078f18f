// Builds Omaha v3 request bodies as update_engine writes them (REFERENCE §1): the update check
// (ping + updatecheck, and a one-shot 3/2 or rollback event) and event-only requests. Pure: values in, XML out.

import { UpdateEngineError } from '../errors.ts';
import { assertValidEvent, omahaEvents, type OmahaEvent } from './events.ts';
import { escapeXmlAttribute } from './xml-text.ts';
import { VERSION } from '../version.ts';

/** Servers such as Nebraska refuse larger requests. */
export const MAX_REQUEST_BYTES = 64 * 1024;

/** The updater name and version sent as request@version and request@updaterversion. */
export const UPDATER_VERSION = `update-engine-${VERSION}`;

export type InstallSource = 'scheduler' | 'ondemandupdate';

/** Who is asking: the attributes of `<os>` and `<app>` that every request carries. */
export interface OmahaClientInfo {
  appId: string;
  /** The running OS version (semver-like; Nebraska parses it). */
  version: string;
  /** GROUP. */
  track: string;
  /** /etc/machine-id, no braces. */
  machineId: string;
  /** The kernel boot id, in braces. */
  bootId: string;
  /** The first version this machine ever ran. */
  alephVersion: string;
  machineAlias?: string;
  board?: string | undefined;
  oem?: string | undefined;
  oemVersion?: string | undefined;
  /** Default en-US. */
  lang?: string;
  /** Default UPDATER_VERSION. */
  updaterVersion?: string;
  /** os@platform, default CoreOS (what Nebraska and CoreUpdate expect). */
  osPlatform?: string;
  /** os@version, default Chateau (update_engine's fixed value). */
  osVersion?: string;
  /** os@sp, default `${version}_${arch}`. */
  osServicePack?: string;
  /** Default scheduler; ondemandupdate when a client asked. */
  installSource?: InstallSource;
}

export interface UpdateCheckRequestParams extends OmahaClientInfo {
  /**
   * When set, the check carries event 3/2 with this previousversion. Only the completion report may
   * carry it: Nebraska takes 3/2 as "update complete" (any app id but Flatcar's, whatever the
   * previousversion) or resets the instance (Flatcar's, previousversion "" or 0.0.0.0).
   */
  previousVersion?: string | undefined;
  /** The machine runs the version it had before an update: send 3/0 errorcode 44 instead of 3/2. */
  rollback?: boolean;
}

export interface EventRequestParams extends OmahaClientInfo {
  event: OmahaEvent;
}

const ARCH_NAMES: Record<string, string> = { x64: 'x86_64', arm64: 'aarch64', ia32: 'i686', arm: 'armv7l' };

function attrs(pairs: Array<[string, string | number]>): string {
  return pairs.map(([name, value]) => `${name}="${escapeXmlAttribute(String(value))}"`).join(' ');
}

function eventElement(event: OmahaEvent): string {
  assertValidEvent(event);
  const pairs: Array<[string, string | number]> = [
    ['eventtype', event.eventType],
    ['eventresult', event.eventResult],
  ];
  if (event.errorCode !== undefined) pairs.push(['errorcode', event.errorCode]);
  if (event.previousVersion !== undefined) pairs.push(['previousversion', event.previousVersion]);
  if (event.download) {
    const d = event.download;
    pairs.push(['downloaded', d.downloadedBytes], ['total', d.totalBytes], ['download_time_ms', d.downloadTimeMs]);
  }
  return `        <event ${attrs(pairs)}></event>\n`;
}

function envelope(info: OmahaClientInfo, body: string): string {
  const updater = info.updaterVersion ?? UPDATER_VERSION;
  const request = attrs([
    ['protocol', '3.0'],
    ['version', updater],
    ['updaterversion', updater],
    ['installsource', info.installSource ?? 'scheduler'],
    ['ismachine', 1],
  ]);
  const os = attrs([
    ['version', info.osVersion ?? 'Chateau'],
    ['platform', info.osPlatform ?? 'CoreOS'],
    ['sp', info.osServicePack ?? `${info.version}_${ARCH_NAMES[process.arch] ?? process.arch}`],
  ]);
  const app = attrs([
    ['appid', info.appId],
    ['version', info.version],
    ['track', info.track],
    ['bootid', info.bootId],
    ['oem', info.oem ?? ''],
    ['oemversion', info.oemVersion ?? ''],
    ['alephversion', info.alephVersion],
    ['machineid', info.machineId],
    ['machinealias', info.machineAlias ?? ''],
    ['lang', info.lang ?? 'en-US'],
    ['board', info.board ?? ''],
    ['hardware_class', ''],
    ['delta_okay', 'false'],
  ]);
  const xml =
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<request ${request}>\n` +
    `    <os ${os}></os>\n` +
    `    <app ${app} >\n` +
    body +
    '    </app>\n' +
    '</request>\n';
  const bytes = Buffer.byteLength(xml);
  if (bytes > MAX_REQUEST_BYTES) {
    throw new UpdateEngineError(
      'ERR_CONFIG_VALUE',
      `The Omaha request is ${bytes} bytes, over the ${MAX_REQUEST_BYTES} servers accept; shorten MACHINE_ALIAS or the other identity values`,
    );
  }
  return xml;
}

/** The update check: ping, updatecheck, then the one-shot event if any (3/2 with previousversion, or the rollback report 3/0 errorcode 44). */
export function buildUpdateCheckRequest(params: UpdateCheckRequestParams): string {
  const event = params.rollback
    ? omahaEvents.rollback()
    : params.previousVersion !== undefined
      ? omahaEvents.updateComplete(params.previousVersion)
      : undefined;
  const body = `        <ping active="1"></ping>\n        <updatecheck></updatecheck>\n${event ? eventElement(event) : ''}`;
  return envelope(params, body);
}

/** An event-only request (13/1, 14/1, 800/1, 3/2, 3/0): the app element carries just the event. */
export function buildEventRequest(params: EventRequestParams): string {
  return envelope(params, eventElement(params.event));
}
