// Proxy selection from the environment: scheme-specific variables, lower case first, ALL_PROXY,
// NO_PROXY with hosts, domain suffixes, ports, IPs and CIDRs; bad proxy URLs are config errors.

import { describe, expect, it } from 'vitest';
import { UpdateEngineError } from '../../src/errors.ts';
import { bypassesProxy, parseProxyUrl, proxyAuthorization, proxyForUrl } from '../../src/omaha/proxy.ts';

const proxyOf = (url: string, env: NodeJS.ProcessEnv) => proxyForUrl(new URL(url), env)?.href;

describe('proxyForUrl', () => {
  it('uses HTTPS_PROXY for https and HTTP_PROXY for http', () => {
    const env = { HTTPS_PROXY: 'http://secure:3128', HTTP_PROXY: 'http://plain:3128' };
    expect(proxyOf('https://update.example.net/x', env)).toBe('http://secure:3128/');
    expect(proxyOf('http://update.example.net/x', env)).toBe('http://plain:3128/');
  });

  it('prefers the lower-case variable, as curl does', () => {
    expect(proxyOf('http://h/', { http_proxy: 'http://lower:1', HTTP_PROXY: 'http://upper:2' })).toBe('http://lower:1/');
  });

  it('falls back to ALL_PROXY, and connects directly without any', () => {
    expect(proxyOf('https://h/', { ALL_PROXY: 'http://all:8080' })).toBe('http://all:8080/');
    expect(proxyOf('https://h/', {})).toBeUndefined();
    expect(proxyOf('https://h/', { HTTPS_PROXY: '  ' })).toBeUndefined();
  });

  it('accepts a proxy without scheme as http://', () => {
    expect(proxyOf('https://h/', { https_proxy: 'proxy.local:3128' })).toBe('http://proxy.local:3128/');
  });

  it('refuses proxies other than http:// with a config error naming the variable', () => {
    let caught: unknown;
    try {
      parseProxyUrl('socks5://p:1080', 'HTTPS_PROXY');
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(UpdateEngineError);
    expect((caught as UpdateEngineError).code).toBe('ERR_CONFIG_VALUE');
    expect((caught as UpdateEngineError).message).toContain('HTTPS_PROXY="socks5://p:1080"');
  });

  it('honours NO_PROXY', () => {
    const env = { HTTPS_PROXY: 'http://p:1', NO_PROXY: 'internal.example.net' };
    expect(proxyOf('https://update.internal.example.net/', env)).toBeUndefined();
    expect(proxyOf('https://update.example.net/', env)).toBe('http://p:1/');
  });
});

describe('bypassesProxy', () => {
  const cases: Array<[string, string, boolean]> = [
    ['https://a.example.net/', '*', true],
    ['https://a.example.net/', 'example.net', true],
    ['https://example.net/', '.example.net', true],
    ['https://a.example.net/', '*.example.net', true],
    ['https://badexample.net/', 'example.net', false],
    ['https://a.example.net:8443/', 'a.example.net:8443', true],
    ['https://a.example.net/', 'a.example.net:8443', false],
    ['http://a.example.net/', 'a.example.net:80', true],
    ['http://10.1.2.3/', '10.0.0.0/8', true],
    ['http://11.1.2.3/', '10.0.0.0/8', false],
    ['http://127.0.0.1:9/', '127.0.0.1', true],
    ['http://[::1]:9/', '::1', true],
    ['http://[fd00::5]/', 'fd00::/8', true],
    ['http://h/', ' , ,h ', true],
    ['http://h/', '', false],
  ];
  for (const [url, noProxy, expected] of cases) {
    it(`${url} with NO_PROXY="${noProxy}" -> ${expected ? 'direct' : 'proxy'}`, () => expect(bypassesProxy(new URL(url), noProxy)).toBe(expected));
  }
});

describe('proxyAuthorization', () => {
  it('builds Basic credentials from the proxy URL, percent-decoded', () => {
    expect(proxyAuthorization(new URL('http://us%40r:p%3Ass@p:1'))).toBe(`Basic ${Buffer.from('us@r:p:ss').toString('base64')}`);
    expect(proxyAuthorization(new URL('http://p:1'))).toBeUndefined();
  });
});
