// The parsers of update.conf values as zod schemas (text in, typed value out; a ValueError becomes the
// message that names what was expected), and the small checks the settings and doctor share.

import { z } from 'zod';
import { parseCronExpression } from '../platform/cron.ts';
import { ValueError, parseBoolean, parseDuration, parseSize, parseVersion } from './values.ts';

/** Wraps a pure parser so that its ValueError becomes a zod issue with the expectation as message. */
export function parsed<T>(parse: (text: string) => T) {
  return z.string().transform((text, ctx): T => {
    try {
      return parse(text);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: e instanceof ValueError ? e.message : String(e) });
      return z.NEVER;
    }
  });
}

export const size = parsed(parseSize);
export const duration = parsed(parseDuration);
export const bool = parsed(parseBoolean);
export const version = parsed((t) => parseVersion(t).text);
export const partition = parsed((t) => {
  if (!/^\d+$/.test(t.trim())) throw new ValueError('expected a partition number, e.g. 3');
  const n = Number(t);
  if (n < 1 || n > 128) throw new ValueError('expected a partition number from 1 to 128');
  return n;
});
export const positiveCount = parsed((t) => {
  if (!/^\d+$/.test(t.trim()) || Number(t) < 1) throw new ValueError('expected a whole number of at least 1, e.g. 1');
  return Number(t);
});
export const nonEmpty = (what: string) => z.string().trim().min(1, `expected ${what}`);
export const url = (what: string) =>
  parsed((t) => {
    let u: URL;
    try {
      u = new URL(t.trim());
    } catch {
      throw new ValueError(`expected ${what}, e.g. https://update.example.net/v1/update/`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ValueError(`expected an http:// or https:// URL for ${what}`);
    return u.toString();
  });
export const urlList = parsed((t) => {
  const list = t
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (list.length === 0) throw new ValueError('expected a comma-separated list of URLs, e.g. http://127.0.0.1:2379');
  for (const item of list) {
    let u: URL;
    try {
      u = new URL(item);
    } catch {
      throw new ValueError(`"${item}" is not a URL; expected e.g. http://10.0.0.1:2379,https://10.0.0.2:2379`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ValueError(`"${item}" must use http:// or https://`);
  }
  return list;
});
export const serverUrl = parsed((t) => {
  const v = t.trim();
  if (v === 'disabled') return 'disabled';
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new ValueError('expected an http:// or https:// URL of the Omaha endpoint, or "disabled"');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ValueError('expected an http:// or https:// URL, or "disabled"');
  return u.toString();
});
export const cron = parsed((t) => {
  let matches: boolean;
  try {
    const cron = parseCronExpression(t);
    matches = cron.nextRun() !== null;
    cron.stop();
  } catch (e) {
    throw new ValueError(`expected a cron expression, e.g. "*/30 * * * *" (${(e as Error).message})`);
  }
  if (!matches) throw new ValueError('expected a cron expression that matches some time (this one never does)');
  return t.trim();
});
export const command = parsed((t) => {
  if (t.trim() === '') throw new ValueError('expected a command, e.g. "systemctl reboot"');
  return t.trim();
});
export const hostList = parsed((t) => {
  const list = t
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== '');
  for (const item of list) {
    if (!/^(\[[0-9a-f:]+\]|[a-z0-9]([a-z0-9.-]*[a-z0-9])?)(:\d{1,5})?$/.test(item))
      throw new ValueError(`"${item}" is not a host or host:port; expected e.g. dl.example.net,mirror.example.net:8443`);
  }
  return list;
});
export const guid = parsed((t) => {
  const v = t.trim().toLowerCase();
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(v))
    throw new ValueError('expected a partition type GUID, e.g. 5dfbf5f4-2848-4bac-aa5e-0d9a20b745a6');
  return v;
});
export const imagePath = parsed((t) => {
  const v = t.trim();
  if (!v.startsWith('/') || v.split('/').includes('..')) throw new ValueError('expected an absolute path inside the image without "..", e.g. /boot/vmlinuz');
  return v;
});
export const espDirectory = parsed((t) => {
  const v = t.trim();
  if (!v.startsWith('/') || v === '/') throw new ValueError('expected an absolute directory below the ESP mount point, e.g. /boot/flatcar');
  return v.replace(/\/+$/, '');
});
export const espLocation = z
  .string()
  .trim()
  .regex(/^(\/.*|auto|partition:\d+)$/, 'expected an absolute directory, "auto" or "partition:N"');
export const listen = parsed((t) => {
  const v = t.trim();
  if (v.startsWith('/')) return v;
  const m = /^(\[[0-9a-fA-F:]+\]|[0-9.]+|localhost):(\d{1,5})$/.exec(v);
  if (!m || Number(m[2]) > 65535) throw new ValueError('expected HOST:PORT (e.g. 127.0.0.1:9105) or an absolute Unix socket path');
  return v;
});

/** METRICS_LISTEN on a Unix socket, 127.0.0.0/8, [::1] or localhost. */
export function isLoopbackListen(listen: string): boolean {
  if (listen.startsWith('/')) return true;
  const host = listen.slice(0, listen.lastIndexOf(':'));
  return host === 'localhost' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** What doctor and config say about an http:// SERVER (REQUIRE_HTTPS=true refuses one). */
export const PLAIN_HTTP_SERVER_WARNING =
  'SERVER is plain http: anyone on the path can read the checks and forge answers (payloads are still verified, but an answer can withhold updates); use https';
