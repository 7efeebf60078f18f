// Tests of the control protocol's framing and validation (pure).

import { describe, expect, it } from 'vitest';
import { LineDecoder, MAX_LINE_BYTES, encodeLine, errorResponse, parseLine, requestSchema, responseSchema } from '../../src/daemon/control-protocol.ts';
import { IDLE_SNAPSHOT } from '../../src/daemon/status.ts';
import { UpdateEngineError } from '../../src/errors.ts';

describe('LineDecoder', () => {
  it('splits lines across chunks, keeps multi-byte characters whole, drops blank lines', () => {
    const d = new LineDecoder();
    const text = Buffer.from('{"a":"é"}\n\n{"b":1}\n{"c"');
    expect(d.push(text.subarray(0, 7))).toEqual([]);
    expect(d.push(text.subarray(7, 12))).toEqual(['{"a":"é"}']);
    expect(d.push(text.subarray(12))).toEqual(['{"b":1}']);
    expect(d.push(Buffer.from(':2}\n'))).toEqual(['{"c":2}']);
  });

  it('refuses an endless line', () => {
    const d = new LineDecoder();
    expect(() => d.push(Buffer.alloc(MAX_LINE_BYTES + 1, 0x61))).toThrow(expect.objectContaining({ code: 'ERR_CONTROL_SOCKET' }));
  });
});

describe('messages', () => {
  it('encodes one JSON object per line and parses it back', () => {
    const line = encodeLine({ id: 7, method: 'watch' });
    expect(line).toBe('{"id":7,"method":"watch"}\n');
    expect(parseLine(line.trim(), requestSchema, 'request')).toEqual({ id: 7, method: 'watch' });
    const event = encodeLine({ id: 7, event: 'status', snapshot: IDLE_SNAPSHOT });
    expect(parseLine(event.trim(), responseSchema, 'response')).toEqual({ id: 7, event: 'status', snapshot: IDLE_SNAPSHOT });
  });

  it.each([
    ['not JSON', 'hello', /not JSON\): "hello"/],
    ['an unknown method', '{"id":1,"method":"reboot"}', /Invalid request on the control socket: method: /],
    ['a missing id', '{"method":"status"}', /Invalid request on the control socket: id: /],
  ])('rejects %s', (_what, line, message) => {
    expect(() => parseLine(line, requestSchema, 'request')).toThrow(message);
  });

  it('rejects a snapshot with progress outside 0..1 or an unknown status', () => {
    const bad = (snapshot: object) => JSON.stringify({ id: 1, event: 'status', snapshot: { ...IDLE_SNAPSHOT, ...snapshot } });
    expect(() => parseLine(bad({ progress: 2 }), responseSchema, 'response')).toThrow(/Invalid response/);
    expect(() => parseLine(bad({ status: 'UPDATE_STATUS_DISABLED' }), responseSchema, 'response')).toThrow(/Invalid response/);
  });

  it('turns errors into error responses, keeping the code of an UpdateEngineError', () => {
    expect(errorResponse(3, new UpdateEngineError('ERR_USAGE', 'No pending update'))).toEqual({
      id: 3,
      ok: false,
      error: { code: 'ERR_USAGE', message: 'No pending update' },
    });
    expect(errorResponse(null, new TypeError('x is undefined'))).toEqual({
      id: null,
      ok: false,
      error: { code: 'ERR_INTERNAL', message: 'The daemon failed: x is undefined' },
    });
  });
});
