// The transport's error type: kind, URL and cause travel with it.

import { describe, expect, it } from 'vitest';
import { HttpTransportError } from '../../src/omaha/http-transport.ts';

describe('HttpTransportError', () => {
  it('carries kind, url, message and cause', () => {
    const cause = new Error('ECONNRESET');
    const e = new HttpTransportError('network', 'http://127.0.0.1:9/x', 'socket hang up', { cause });
    expect(e).toBeInstanceOf(Error);
    expect({ name: e.name, kind: e.kind, url: e.url, message: e.message, cause: e.cause }).toEqual({
      name: 'HttpTransportError',
      kind: 'network',
      url: 'http://127.0.0.1:9/x',
      message: 'socket hang up',
      cause,
    });
  });
});
