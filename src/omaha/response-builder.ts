// Writes Omaha v3 responses the way Nebraska does (one line, no self-closing tags; ping, updatecheck,
// then one <event status="ok"> per received event), for the development server and tests. Pure.

import { escapeXmlAttribute } from './xml-text.ts';

export type UpdateCheckAnswer =
  | { kind: 'noupdate' }
  | {
      kind: 'update';
      /** url@codebase: the directory URL, ending in "/". */
      codebase: string;
      packageName: string;
      version: string;
      sizeBytes: number;
      sha256Base64: string;
      /** package@hash (SHA-1, legacy); Nebraska always sends one. */
      sha1Base64?: string;
      pollIntervalSeconds?: number | undefined;
      maxFailureCountPerUrl?: number;
    }
  /** updatecheck status="error-internal" with app status = reason (error-noPackageFound, ...). */
  | { kind: 'error'; reason: string };

export interface AppAnswer {
  appId: string;
  /** Answer the <ping>. */
  ping: boolean;
  /** Acknowledge this many <event>s. */
  events: number;
  updateCheck?: UpdateCheckAnswer;
}

function element(name: string, attributes: Array<[string, string | number | undefined]>, inner = ''): string {
  const attrs = attributes
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}="${escapeXmlAttribute(String(v))}"`)
    .join('');
  return `<${name}${attrs}>${inner}</${name}>`;
}

function updateCheckElement(answer: UpdateCheckAnswer): string {
  if (answer.kind === 'noupdate') return element('updatecheck', [['status', 'noupdate']]);
  if (answer.kind === 'error') return element('updatecheck', [['status', 'error-internal']]);
  const pkg = element('package', [
    ['name', answer.packageName],
    ['hash', answer.sha1Base64 ?? ''],
    ['size', answer.sizeBytes],
    ['required', 'true'],
  ]);
  const action = element('action', [
    ['event', 'postinstall'],
    ['sha256', answer.sha256Base64],
    ['DisablePayloadBackoff', 'true'],
    ['MaxFailureCountPerUrl', answer.maxFailureCountPerUrl],
  ]);
  const manifest = element('manifest', [['version', answer.version]], element('packages', [], pkg) + element('actions', [], action));
  const urls = element('urls', [], element('url', [['codebase', answer.codebase]]));
  return element(
    'updatecheck',
    [
      ['status', 'ok'],
      ['PollInterval', answer.pollIntervalSeconds],
    ],
    urls + manifest,
  );
}

/** The whole response document, with the XML declaration on its own line as Go's encoder writes it. */
export function buildOmahaResponse(apps: AppAnswer[], server = 'update-engine'): string {
  const body = apps
    .map((app) => {
      const status = app.updateCheck?.kind === 'error' ? app.updateCheck.reason : 'ok';
      let inner = '';
      if (app.ping) inner += element('ping', [['status', 'ok']]);
      if (app.updateCheck) inner += updateCheckElement(app.updateCheck);
      for (let i = 0; i < app.events; i++) inner += element('event', [['status', 'ok']]);
      return element(
        'app',
        [
          ['appid', app.appId],
          ['status', status],
        ],
        inner,
      );
    })
    .join('');
  return `<?xml version="1.0" encoding="UTF-8"?>\n${element(
    'response',
    [
      ['protocol', '3.0'],
      ['server', server],
    ],
    element('daystart', [['elapsed_seconds', 0]]) + body,
  )}`;
}
