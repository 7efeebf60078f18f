// Where DOWNLOAD_USER/DOWNLOAD_PASSWORD (and a password embedded in a URL) may go: only over https,
// only to SERVER's host:port or a host named in DOWNLOAD_HOSTS, never to a host an answer names.
// Pure: the payload source asks it per URL; the transport drops credentials on any cross-host redirect.

import type { BasicCredentials } from './http-transport.ts';
import { redactUrlPasswords } from '../platform/redact.ts';

export interface CredentialPolicyInput {
  /** SERVER (its host:port may receive credentials), or "disabled". */
  server: string;
  /** DOWNLOAD_HOSTS: "host" (any port) or "host:port". */
  downloadHosts: readonly string[];
  /** DOWNLOAD_USER / DOWNLOAD_PASSWORD, when set. */
  credentials?: BasicCredentials | undefined;
}

/** "host:port" of a URL with the scheme's default port filled in, lower case; undefined for a non-URL. */
export function hostPort(url: string | URL): string | undefined {
  let u: URL;
  try {
    u = typeof url === 'string' ? new URL(url) : url;
  } catch {
    return undefined;
  }
  const port = u.port !== '' ? u.port : u.protocol === 'https:' ? '443' : u.protocol === 'http:' ? '80' : '';
  return `${u.hostname.toLowerCase()}:${port}`;
}

/** A URL without its user:password part, and that part (decoded) when there was one. */
export function splitUrlCredentials(url: string): { url: string; embedded?: BasicCredentials } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return { url };
  }
  if (u.username === '' && u.password === '') return { url };
  const embedded = { username: decodeURIComponent(u.username), password: decodeURIComponent(u.password) };
  u.username = '';
  u.password = '';
  return { url: u.toString(), embedded };
}

/** Replaces a URL's password with "***" for logs and printouts. */
export const redactUrl = redactUrlPasswords;

export class CredentialPolicy {
  private readonly exact = new Set<string>();
  private readonly anyPort = new Set<string>();

  constructor(private readonly input: CredentialPolicyInput) {
    if (input.server !== 'disabled') {
      const server = hostPort(input.server);
      if (server) this.exact.add(server);
    }
    for (const entry of input.downloadHosts) {
      const e = entry.toLowerCase();
      if (/:\d+$/.test(e)) this.exact.add(e.replace(/^\[(.*)\]:/, '[$1]:'));
      else this.anyPort.add(e);
    }
  }

  /** Whether credentials may be sent to this URL: https, and a host the operator named. */
  allows(url: string): boolean {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      return false;
    }
    if (u.protocol !== 'https:') return false;
    const hp = hostPort(u);
    return (hp !== undefined && this.exact.has(hp)) || this.anyPort.has(u.hostname.toLowerCase());
  }

  /**
   * What to request and with which credentials: the URL never keeps an embedded user:password (got
   * would send it anywhere); the embedded pair or DOWNLOAD_USER/PASSWORD go only where allows() says.
   */
  forRequest(url: string): { url: string; credentials?: BasicCredentials | undefined; refused?: 'not-https' | 'host' } {
    const { url: clean, embedded } = splitUrlCredentials(url);
    const credentials = embedded ?? this.input.credentials;
    if (!credentials) return { url: clean };
    if (this.allows(clean)) return { url: clean, credentials };
    return { url: clean, refused: clean.startsWith('https:') ? 'host' : 'not-https' };
  }
}
