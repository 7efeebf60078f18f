// Parses Omaha v3 update-check and event responses (REFERENCE §1). Tolerant of what servers vary
// (unknown attributes and elements, extra packages, empty <urls>, one-line output), strict on what the
// update needs. Pure. Errors: empty 30, not XML or > 1 MiB 31, a missing field 34, error-* status 37.

import { UpdateEngineError } from '../errors.ts';
import { isVersion } from '../config/values.ts';
import { DEFAULT_MAX_FAILURE_COUNT_PER_URL, clampPollIntervalMs, payloadUrl, type CheckResult, type UpdateOffer } from './offer.ts';
import { classifyAppStatus } from './rollout-answer.ts';
import { XmlTreeError, attributeOf, childOf, childrenOf, parseXmlDocument, type XmlElement } from './xml-tree.ts';

/** Responses larger than this are refused (and the transport stops reading after it). */
export const MAX_RESPONSE_BYTES = 1024 * 1024;

function invalid(message: string, details?: Record<string, unknown>): UpdateEngineError {
  return new UpdateEngineError('ERR_OMAHA_RESPONSE_INVALID', `Invalid Omaha response: ${message}`, details ? { details } : {});
}

function parseRoot(body: Buffer | string, what: string): XmlElement {
  const text = typeof body === 'string' ? body : body.toString('utf8');
  if (text.trim() === '') throw new UpdateEngineError('ERR_OMAHA_EMPTY', `The Omaha server answered the ${what} with an empty body`);
  let root: XmlElement;
  try {
    root = parseXmlDocument(body, MAX_RESPONSE_BYTES);
  } catch (e) {
    if (e instanceof XmlTreeError) {
      const message = e.kind === 'too-large' ? `the response is larger than 1 MiB` : e.message;
      throw new UpdateEngineError('ERR_OMAHA_PARSE', `Cannot parse the Omaha response to the ${what}: ${message}`, { cause: e });
    }
    throw e;
  }
  if (root.name !== 'response') throw invalid(`the root element is <${root.name}>, expected <response>`);
  return root;
}

function normalizeAppId(id: string): string {
  return id
    .trim()
    .replace(/^\{|\}$/g, '')
    .toLowerCase();
}

/** The <app> answering for appId (braces and case ignored); the first <app> when appId is not given. */
function selectApp(root: XmlElement, appId: string | undefined): XmlElement {
  const apps = childrenOf(root, 'app');
  if (apps.length === 0) throw invalid('no <app> element');
  if (appId === undefined) return apps[0] as XmlElement;
  const wanted = normalizeAppId(appId);
  const app = apps.find((a) => normalizeAppId(attributeOf(a, 'appid') ?? '') === wanted);
  if (!app) throw invalid(`no <app> for appid "${appId}" (the response has ${apps.map((a) => `"${attributeOf(a, 'appid') ?? ''}"`).join(', ')})`);
  return app;
}

function serverError(app: XmlElement, reason: string, what: string): UpdateEngineError {
  const appStatus = attributeOf(app, 'status');
  const answer = classifyAppStatus(reason);
  return new UpdateEngineError('ERR_OMAHA_SERVER_ERROR', `The Omaha server reported an error for the ${what}: "${reason}": ${answer.explanation}`, {
    details: { reason, kind: answer.kind, appStatus, updatecheckStatus: attributeOf(childOf(app, 'updatecheck'), 'status') },
  });
}

/** An app status other than "ok" (Nebraska: error-updatesDisabled, error-noPackageFound, ...). */
function checkAppStatus(app: XmlElement, what: string): void {
  const status = attributeOf(app, 'status');
  if (status !== undefined && status !== 'ok') throw serverError(app, status, what);
}

function parseInteger(text: string | undefined): number | undefined {
  if (text === undefined || !/^\s*\d+\s*$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}

function parseFlag(text: string | undefined): boolean {
  return text !== undefined && text.trim().toLowerCase() === 'true';
}

function isSha256Base64(text: string): boolean {
  return /^[A-Za-z0-9+/]{43}=$/.test(text) && Buffer.from(text, 'base64').length === 32;
}

function parseOffer(updatecheck: XmlElement, appId: string, server: string | undefined, pollIntervalMs: number | undefined): UpdateOffer {
  const codebases = childrenOf(childOf(updatecheck, 'urls'), 'url')
    .map((u) => attributeOf(u, 'codebase')?.trim() ?? '')
    .filter((c) => c !== '');
  if (codebases.length === 0) throw invalid('the update has no <url codebase="...">');
  const manifest = childOf(updatecheck, 'manifest');
  if (!manifest) throw invalid('the update has no <manifest>');
  const version = attributeOf(manifest, 'version')?.trim();
  if (!version) throw invalid('<manifest> has no version');
  // The daemon compares it with the running version: a version it cannot order is no offer.
  if (!isVersion(version)) throw invalid(`<manifest> version "${version}" is not semver-like (e.g. 3374.2.0)`);
  const pkg = childOf(childOf(manifest, 'packages'), 'package');
  if (!pkg) throw invalid('<manifest> has no <package>');
  const packageName = attributeOf(pkg, 'name')?.trim();
  if (!packageName) throw invalid('the first <package> has no name');
  if (packageName.includes('/') || packageName === '.' || packageName === '..') throw invalid(`package name "${packageName}" is not a file name`);
  const sizeText = attributeOf(pkg, 'size');
  const sizeBytes = parseInteger(sizeText);
  if (sizeBytes === undefined || sizeBytes <= 0) throw invalid(`package "${packageName}" has size "${sizeText ?? ''}", expected a positive integer`);
  const actions = childrenOf(childOf(manifest, 'actions'), 'action');
  const postinstall = actions.find((a) => attributeOf(a, 'event') === 'postinstall');
  const sha256Base64 = attributeOf(postinstall, 'sha256')?.trim();
  if (!sha256Base64) throw invalid('no <action event="postinstall" sha256="...">: the payload SHA-256 is required');
  if (!isSha256Base64(sha256Base64)) throw invalid(`postinstall sha256 "${sha256Base64}" is not a base64 SHA-256`);
  const maxFailures = parseInteger(attributeOf(postinstall, 'MaxFailureCountPerUrl') ?? attributeOf(updatecheck, 'MaxFailureCountPerUrl'));
  const sha1Base64 = attributeOf(pkg, 'hash')?.trim();
  const offer: UpdateOffer = {
    kind: 'update',
    appId,
    version,
    urls: codebases.map((c) => payloadUrl(c, packageName)),
    packageName,
    sizeBytes,
    sha256Base64,
    maxFailureCountPerUrl: maxFailures !== undefined && maxFailures > 0 ? maxFailures : DEFAULT_MAX_FAILURE_COUNT_PER_URL,
    disablePayloadBackoff: parseFlag(attributeOf(postinstall, 'DisablePayloadBackoff')),
    isDeltaPayload: parseFlag(attributeOf(postinstall, 'IsDeltaPayload') ?? attributeOf(postinstall, 'IsDelta')),
  };
  if (sha1Base64) offer.sha1Base64 = sha1Base64;
  if (pollIntervalMs !== undefined) offer.pollIntervalMs = pollIntervalMs;
  if (server !== undefined) offer.server = server;
  return offer;
}

export interface ParseCheckOptions {
  /** The app id the client asked for; the matching <app> is used (default: the first). */
  appId?: string;
}

/** Parses the response to an update check into an UpdateOffer or NoUpdate. */
export function parseUpdateCheckResponse(body: Buffer | string, options: ParseCheckOptions = {}): CheckResult {
  const root = parseRoot(body, 'update check');
  const app = selectApp(root, options.appId);
  const appId = attributeOf(app, 'appid') ?? options.appId ?? '';
  const server = attributeOf(root, 'server');
  const updatecheck = childOf(app, 'updatecheck');
  const status = attributeOf(updatecheck, 'status');
  const appStatus = attributeOf(app, 'status');
  if (status?.startsWith('error-') || (appStatus !== undefined && appStatus !== 'ok')) {
    const reason = appStatus !== undefined && appStatus !== 'ok' ? appStatus : (status as string);
    const answer = classifyAppStatus(reason);
    // A rollout refusal or an update the server counts as running is "no update now", not an error.
    if (answer.kind === 'policy' || answer.kind === 'in-progress') {
      return { kind: 'refused', appId, refusal: answer.kind, reason, explanation: answer.explanation, server };
    }
    throw serverError(app, reason, 'update check');
  }
  if (!updatecheck) throw invalid(`<app appid="${appId}"> has no <updatecheck>`);
  const pollIntervalMs = clampPollIntervalMs(parseInteger(attributeOf(updatecheck, 'PollInterval')));
  if (status === 'noupdate') {
    return { kind: 'noupdate', appId, pollIntervalMs, server };
  }
  if (status !== 'ok') throw invalid(`<updatecheck> has status "${status ?? ''}", expected "ok" or "noupdate"`);
  return parseOffer(updatecheck, appId, server, pollIntervalMs);
}

/** Checks the response to an event-only request: well-formed, the app (if named) not in error. */
export function parseEventResponse(body: Buffer | string, options: ParseCheckOptions = {}): void {
  const root = parseRoot(body, 'event');
  if (childrenOf(root, 'app').length === 0) return;
  const app = selectApp(root, options.appId);
  checkAppStatus(app, 'event');
  const event = childOf(app, 'event');
  const status = attributeOf(event, 'status');
  if (status !== undefined && status !== 'ok') throw serverError(app, status, 'event');
}
