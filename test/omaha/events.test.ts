// Omaha events: the named constructors, the errorcode rule, and error events with flag bits.

import { describe, expect, it } from 'vitest';
import { UpdateEngineError } from '../../src/errors.ts';
import { assertValidEvent, errorEvent, omahaEvents, type OmahaEvent } from '../../src/omaha/events.ts';

describe('omahaEvents', () => {
  it('numbers the events as update_engine does (installed as Nebraska: 800/1)', () => {
    expect(omahaEvents.downloadStarted()).toEqual({ eventType: 13, eventResult: 1 });
    expect(omahaEvents.downloadFinished()).toEqual({ eventType: 14, eventResult: 1 });
    expect(omahaEvents.installed()).toEqual({ eventType: 800, eventResult: 1 });
    expect(omahaEvents.updateComplete('1.2.3')).toEqual({ eventType: 3, eventResult: 2, previousVersion: '1.2.3' });
    expect(omahaEvents.error(9)).toEqual({ eventType: 3, eventResult: 0, errorCode: 9 });
    expect(omahaEvents.deferred(40)).toEqual({ eventType: 3, eventResult: 9, errorCode: 40 });
    expect(omahaEvents.rollback()).toEqual({ eventType: 3, eventResult: 0, errorCode: 44 });
  });
});

describe('assertValidEvent', () => {
  const valid: OmahaEvent[] = [omahaEvents.downloadStarted(), omahaEvents.error(1), omahaEvents.deferred(40), omahaEvents.updateComplete('')];
  for (const event of valid) {
    it(`accepts ${event.eventType}/${event.eventResult}`, () => expect(() => assertValidEvent(event)).not.toThrow());
  }
  const invalid: Array<[string, OmahaEvent, RegExp]> = [
    ['errorcode with result 1', { eventType: 3, eventResult: 1, errorCode: 1 }, /only sent with result 0 or 9/],
    ['errorcode with result 2', { eventType: 3, eventResult: 2, errorCode: 1 }, /only sent with result 0 or 9/],
    ['an error without errorcode', { eventType: 3, eventResult: 0 }, /needs an errorcode/],
    ['previousversion on 13/1', { eventType: 13, eventResult: 1, previousVersion: '1' }, /only to event 3\/2/],
    ['a fractional type', { eventType: 3.5, eventResult: 1 }, /non-negative integers/],
    ['a negative errorcode', { eventType: 3, eventResult: 0, errorCode: -1 }, /32-bit/],
  ];
  for (const [name, event, message] of invalid) {
    it(`refuses ${name} as a bug (ERR_INTERNAL)`, () => {
      let caught: unknown;
      try {
        assertValidEvent(event);
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(UpdateEngineError);
      expect((caught as UpdateEngineError).code).toBe('ERR_INTERNAL');
      expect((caught as UpdateEngineError).message).toMatch(message);
    });
  }
});

describe('errorEvent', () => {
  it('maps the error code and ORs the flag bits in, unsigned', () => {
    const err = new UpdateEngineError('ERR_PAYLOAD_HASH_MISMATCH', 'x');
    expect(errorEvent(err)).toEqual({ eventType: 3, eventResult: 0, errorCode: 10 });
    expect(errorEvent(err, { resumedDownload: true }).errorCode).toBe(10 + 2 ** 30);
    expect(errorEvent(err, { resumedDownload: true, nonDefaultServer: true }).errorCode).toBe(10 + 2 ** 30 + 2 ** 28);
  });

  it('reports 2000 + status for an HTTP error of the check', () => {
    expect(errorEvent(new UpdateEngineError('ERR_OMAHA_HTTP', 'x', { httpStatus: 503 })).errorCode).toBe(2503);
  });
});
