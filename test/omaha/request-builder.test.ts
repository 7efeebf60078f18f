// The request builder against update_engine's format: the same elements and attributes, in the same
// order, field by field; the event rules; XML escaping; the 64 KiB cap.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { UpdateEngineError } from '../../src/errors.ts';
import { omahaEvents } from '../../src/omaha/events.ts';
import { buildEventRequest, buildUpdateCheckRequest, type UpdateCheckRequestParams } from '../../src/omaha/request-builder.ts';
import { childOf, childrenOf, parseXmlDocument, type XmlElement } from '../../src/omaha/xml-tree.ts';
import { VERSION } from '../../src/version.ts';

const fixture = readFileSync(new URL('../../fixtures/omaha/update-engine-request.xml', import.meta.url), 'utf8');

/** The values of the update_engine sample, as our builder takes them. */
const sample: UpdateCheckRequestParams = {
  appId: '{e96281a6-d1af-4bde-9a0a-97b76e56dc57}',
  version: '3602.2.3',
  track: 'stable',
  bootId: '{0c288430-2504-4db4-913a-8c3de52afd07}',
  oem: 'vmware',
  oemVersion: '11.2.5',
  alephVersion: '2905.2.3',
  machineId: 'dbff85b41ae14f41bde761eefbdafaac',
  machineAlias: '',
  board: 'amd64-usr',
  osServicePack: '3602.2.3_x86_64',
  installSource: 'scheduler',
};

function parse(xml: string): XmlElement {
  return parseXmlDocument(xml, 64 * 1024);
}

function shape(element: XmlElement): unknown {
  return {
    name: element.name,
    attributes: [...element.attributes.keys()],
    children: [...element.children.entries()].map(([name, list]) => [name, list.map(shape)]),
  };
}

describe('buildUpdateCheckRequest', () => {
  // update_engine's sample carries its every-check 3/2 with previousversion=""; this engine sends 3/2
  // only as the completion report, so the comparison builds that one.
  const ours = parse(buildUpdateCheckRequest({ ...sample, previousVersion: '' }));
  const theirs = parse(fixture);

  it('has the same elements and attribute names, in the same order, as update_engine', () => {
    expect(shape(ours)).toEqual(shape(theirs));
  });

  const elements: Array<[string, (r: XmlElement) => XmlElement | undefined]> = [
    ['os', (r) => childOf(r, 'os')],
    ['app', (r) => childOf(r, 'app')],
    ['ping', (r) => childOf(childOf(r, 'app'), 'ping')],
    ['updatecheck', (r) => childOf(childOf(r, 'app'), 'updatecheck')],
    ['event', (r) => childOf(childOf(r, 'app'), 'event')],
  ];
  for (const [name, pick] of elements) {
    it(`sends the same <${name}> values as update_engine, field by field`, () => {
      const a = pick(ours);
      const b = pick(theirs);
      expect(a && b).toBeTruthy();
      for (const [attr, value] of b!.attributes) expect({ attr, value: a!.attributes.get(attr) }).toEqual({ attr, value });
    });
  }

  it('differs from update_engine only in the updater name on <request>', () => {
    for (const [attr, value] of theirs.attributes) {
      if (attr === 'version' || attr === 'updaterversion') expect(ours.attributes.get(attr)).toBe(`update-engine-${VERSION}`);
      else expect({ attr, value: ours.attributes.get(attr) }).toEqual({ attr, value });
    }
  });

  it('sends ping, updatecheck and 3/2 with the previous version after an update', () => {
    const app = childOf(parse(buildUpdateCheckRequest({ ...sample, previousVersion: '3510.2.8' })), 'app');
    expect(childrenOf(app, 'ping')).toHaveLength(1);
    expect(childrenOf(app, 'updatecheck')).toHaveLength(1);
    const events = childrenOf(app, 'event');
    expect(events.map((e) => Object.fromEntries(e.attributes))).toEqual([{ eventtype: '3', eventresult: '2', previousversion: '3510.2.8' }]);
  });

  it('a plain check carries no event: Nebraska takes any 3/2 as "complete" (or resets a Flatcar instance)', () => {
    const app = childOf(parse(buildUpdateCheckRequest(sample)), 'app');
    expect([...app!.children.keys()]).toEqual(['ping', 'updatecheck']);
  });

  it('reports a rollback as 3/0 errorcode 44 instead of 3/2, still with ping and updatecheck', () => {
    const app = childOf(parse(buildUpdateCheckRequest({ ...sample, previousVersion: '3510.2.8', rollback: true })), 'app');
    expect(childrenOf(app, 'updatecheck')).toHaveLength(1);
    expect(childrenOf(app, 'event').map((e) => Object.fromEntries(e.attributes))).toEqual([{ eventtype: '3', eventresult: '0', errorcode: '44' }]);
  });

  it('marks on-demand checks as ondemandupdate', () => {
    expect(parse(buildUpdateCheckRequest({ ...sample, installSource: 'ondemandupdate' })).attributes.get('installsource')).toBe('ondemandupdate');
  });

  it('escapes values so that any machine alias round-trips', () => {
    const alias = `rack 3 <"db" & 'cache'>\tline\nnext`;
    const xml = buildUpdateCheckRequest({ ...sample, machineAlias: alias });
    expect(xml).toContain('machinealias="rack 3 &lt;&quot;db&quot; &amp; &apos;cache&apos;&gt;&#9;line&#10;next"');
    expect(childOf(parse(xml), 'app')?.attributes.get('machinealias')).toBe(alias);
  });

  it('replaces characters XML cannot carry', () => {
    const xml = buildUpdateCheckRequest({ ...sample, machineAlias: 'a\u0001b' });
    expect(childOf(parse(xml), 'app')?.attributes.get('machinealias')).toBe('a\uFFFDb');
  });

  it('refuses a request over the 64 KiB that servers accept', () => {
    expect(() => buildUpdateCheckRequest({ ...sample, machineAlias: 'x'.repeat(70_000) })).toThrow(/over the 65536/);
  });
});

describe('buildEventRequest', () => {
  const cases: Array<[string, ReturnType<typeof omahaEvents.installed>, Record<string, string>]> = [
    ['13/1 download started', omahaEvents.downloadStarted(), { eventtype: '13', eventresult: '1' }],
    ['14/1 download finished', omahaEvents.downloadFinished(), { eventtype: '14', eventresult: '1' }],
    [
      '14/1 download finished with the bytes a delta fetched (Omaha v3 downloaded/total/download_time_ms)',
      omahaEvents.downloadFinished({ downloadedBytes: 3_700_000, totalBytes: 175_000_000, downloadTimeMs: 1800 }),
      { eventtype: '14', eventresult: '1', downloaded: '3700000', total: '175000000', download_time_ms: '1800' },
    ],
    ["800/1 installed (Nebraska's EventUpdateInstalled)", omahaEvents.installed(), { eventtype: '800', eventresult: '1' }],
    ['3/2 complete', omahaEvents.updateComplete('1.0.0'), { eventtype: '3', eventresult: '2', previousversion: '1.0.0' }],
    ['3/0 error', omahaEvents.error(10), { eventtype: '3', eventresult: '0', errorcode: '10' }],
    ['3/9 deferred', omahaEvents.deferred(40), { eventtype: '3', eventresult: '9', errorcode: '40' }],
  ];
  for (const [name, event, expected] of cases) {
    it(`carries just the ${name} event`, () => {
      const app = childOf(parse(buildEventRequest({ ...sample, event })), 'app');
      expect([...app!.children.keys()]).toEqual(['event']);
      expect(Object.fromEntries(childOf(app, 'event')!.attributes)).toEqual(expected);
      expect(app!.attributes.get('machineid')).toBe(sample.machineId);
    });
  }

  it('refuses download figures on any event but 14/1 (a bug in the caller)', () => {
    const event = { ...omahaEvents.installed(), download: { downloadedBytes: 1, totalBytes: 2, downloadTimeMs: 3 } };
    expect(() => buildEventRequest({ ...sample, event })).toThrow(/belong only to event 14\/1/);
  });

  it('refuses an errorcode with a success result (a bug in the caller)', () => {
    const err = (() => {
      try {
        buildEventRequest({ ...sample, event: { eventType: 3, eventResult: 1, errorCode: 9 } });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(UpdateEngineError);
    expect((err as UpdateEngineError).code).toBe('ERR_INTERNAL');
  });
});
