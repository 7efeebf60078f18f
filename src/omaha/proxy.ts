// Which proxy a URL goes through, from HTTPS_PROXY / HTTP_PROXY / ALL_PROXY and NO_PROXY (lower-case
// names first, as curl reads them). Pure: an environment and a URL in, a proxy URL or undefined out.

import { BlockList, isIP } from 'node:net';
import { UpdateEngineError } from '../errors.ts';

function envValue(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name.toLowerCase()] ?? env[name.toUpperCase()];
  return value !== undefined && value.trim() !== '' ? value.trim() : undefined;
}

/** Parses a proxy setting; only http:// proxies are supported (a scheme-less value means http://). */
export function parseProxyUrl(value: string, variable: string): URL {
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`);
  } catch {
    throw new UpdateEngineError('ERR_CONFIG_VALUE', `${variable}="${value}" is not a proxy URL; expected e.g. http://proxy.example.net:3128`);
  }
  if (url.protocol !== 'http:') {
    throw new UpdateEngineError('ERR_CONFIG_VALUE', `${variable}="${value}" uses ${url.protocol}//, but only http:// proxies are supported`);
  }
  return url;
}

function stripBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

function defaultPort(url: URL): string {
  return url.port || (url.protocol === 'https:' ? '443' : '80');
}

/** True when NO_PROXY says to go direct: "*", host or domain suffixes (".example.net", "*.example.net"), IPs, CIDRs, optional :port. */
export function bypassesProxy(url: URL, noProxy: string | undefined): boolean {
  if (noProxy === undefined) return false;
  const host = stripBrackets(url.hostname).toLowerCase();
  const port = defaultPort(url);
  for (const raw of noProxy.split(/[\s,]+/)) {
    let entry = raw.trim().toLowerCase();
    if (entry === '') continue;
    if (entry === '*') return true;
    let entryPort: string | undefined;
    const portMatch = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(entry);
    if (portMatch) {
      entry = portMatch[1] as string;
      entryPort = portMatch[2];
    }
    if (entryPort !== undefined && entryPort !== port) continue;
    entry = stripBrackets(entry);
    const cidr = /^(.+)\/(\d{1,3})$/.exec(entry);
    if (cidr && isIP(cidr[1] as string) !== 0 && isIP(host) !== 0) {
      const family = isIP(cidr[1] as string) === 4 ? 'ipv4' : 'ipv6';
      if (isIP(host) !== (family === 'ipv4' ? 4 : 6)) continue;
      const list = new BlockList();
      try {
        list.addSubnet(cidr[1] as string, Number(cidr[2]), family);
      } catch {
        continue;
      }
      if (list.check(host, family)) return true;
      continue;
    }
    const domain = entry.replace(/^\*?\./, '');
    if (host === domain || host.endsWith(`.${domain}`)) return true;
  }
  return false;
}

/** The proxy for this URL, or undefined to connect directly. */
export function proxyForUrl(url: URL, env: NodeJS.ProcessEnv): URL | undefined {
  if (bypassesProxy(url, envValue(env, 'no_proxy'))) return undefined;
  const scheme = url.protocol === 'https:' ? 'https_proxy' : url.protocol === 'http:' ? 'http_proxy' : undefined;
  if (scheme === undefined) return undefined;
  const specific = envValue(env, scheme);
  if (specific !== undefined) return parseProxyUrl(specific, scheme.toUpperCase());
  const all = envValue(env, 'all_proxy');
  return all !== undefined ? parseProxyUrl(all, 'ALL_PROXY') : undefined;
}

/** The Proxy-Authorization header value for a proxy URL with user:password, else undefined. */
export function proxyAuthorization(proxy: URL): string | undefined {
  if (proxy.username === '' && proxy.password === '') return undefined;
  const user = decodeURIComponent(proxy.username);
  const password = decodeURIComponent(proxy.password);
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}
