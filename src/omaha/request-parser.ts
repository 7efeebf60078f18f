// Parses Omaha v3 requests on the server side (the development server): each app's identity,
// whether it asks for an update, and its events. Pure; same XML safety rules as the response parser.

import { UpdateEngineError } from '../errors.ts';
import { MAX_REQUEST_BYTES } from './request-builder.ts';
import { XmlTreeError, attributeOf, childOf, childrenOf, parseXmlDocument } from './xml-tree.ts';

export interface ReceivedEvent {
  eventType: number;
  eventResult: number;
  errorCode?: number;
  previousVersion?: string;
}

export interface ReceivedApp {
  appId: string;
  version: string;
  track: string;
  machineId: string;
  machineAlias: string;
  board: string;
  /** oem and oemversion (the OEM release file's ID and VERSION_ID); "" when not sent. */
  oem: string;
  oemVersion: string;
  ping: boolean;
  updateCheck: boolean;
  events: ReceivedEvent[];
}

export interface ReceivedRequest {
  installSource: string;
  apps: ReceivedApp[];
}

function invalid(message: string): UpdateEngineError {
  return new UpdateEngineError('ERR_OMAHA_RESPONSE_INVALID', `Invalid Omaha request: ${message}`);
}

function integer(text: string | undefined, what: string): number {
  if (text === undefined || !/^\s*\d+\s*$/.test(text)) throw invalid(`${what} "${text ?? ''}" is not a non-negative integer`);
  return Number(text);
}

/** Parses a request body (at most 64 KiB): ERR_OMAHA_PARSE when it is not XML, ERR_OMAHA_RESPONSE_INVALID when fields are wrong. */
export function parseOmahaRequest(body: Buffer | string): ReceivedRequest {
  let root;
  try {
    root = parseXmlDocument(body, MAX_REQUEST_BYTES);
  } catch (e) {
    if (e instanceof XmlTreeError)
      throw new UpdateEngineError('ERR_OMAHA_PARSE', `Cannot parse the Omaha request: ${e.kind === 'too-large' ? 'larger than 64 KiB' : e.message}`, {
        cause: e,
      });
    throw e;
  }
  if (root.name !== 'request') throw invalid(`the root element is <${root.name}>, expected <request>`);
  const apps = childrenOf(root, 'app').map((app): ReceivedApp => {
    const appId = attributeOf(app, 'appid');
    if (!appId) throw invalid('an <app> has no appid');
    const events = childrenOf(app, 'event').map((event): ReceivedEvent => {
      const received: ReceivedEvent = {
        eventType: integer(attributeOf(event, 'eventtype'), 'eventtype'),
        eventResult: integer(attributeOf(event, 'eventresult'), 'eventresult'),
      };
      const errorCode = attributeOf(event, 'errorcode');
      if (errorCode !== undefined) received.errorCode = integer(errorCode, 'errorcode');
      const previousVersion = attributeOf(event, 'previousversion');
      if (previousVersion !== undefined) received.previousVersion = previousVersion;
      return received;
    });
    return {
      appId,
      version: attributeOf(app, 'version') ?? '',
      track: attributeOf(app, 'track') ?? '',
      machineId: attributeOf(app, 'machineid') ?? '',
      machineAlias: attributeOf(app, 'machinealias') ?? '',
      board: attributeOf(app, 'board') ?? '',
      oem: attributeOf(app, 'oem') ?? '',
      oemVersion: attributeOf(app, 'oemversion') ?? '',
      ping: childOf(app, 'ping') !== undefined,
      updateCheck: childOf(app, 'updatecheck') !== undefined,
      events,
    };
  });
  if (apps.length === 0) throw invalid('no <app> element');
  return { installSource: attributeOf(root, 'installsource') ?? '', apps };
}
