// Test helper for the metrics tests: an HTTP request over TCP or a Unix socket, and a parser of the
// Prometheus text format (HELP, TYPE, samples with labels) with a lookup of one sample's value.

import { request } from 'node:http';

export interface HttpReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** Sends `method path` to `address`: `HOST:PORT` (as startMetricsServer returns it) or a socket path. */
export function httpRequest(address: string, path = '/metrics', method = 'GET'): Promise<HttpReply> {
  const target = address.startsWith('/')
    ? { socketPath: address }
    : (() => {
        const i = address.lastIndexOf(':');
        return { host: address.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(address.slice(i + 1)) };
      })();
  return new Promise((resolve, reject) => {
    const req = request({ ...target, path, method, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Exposition {
  help: Map<string, string>;
  types: Map<string, string>;
  samples: Sample[];
}

function unescapeLabel(v: string): string {
  return v.replace(/\\(.)/g, (_m, c: string) => (c === 'n' ? '\n' : c));
}

/** Parses the Prometheus text exposition format (version 0.0.4); throws on a line it cannot read. */
export function parseExposition(text: string): Exposition {
  const out: Exposition = { help: new Map(), types: new Map(), samples: [] };
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (meta) {
      (meta[1] === 'HELP' ? out.help : out.types).set(meta[2] as string, meta[3] as string);
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: \d+)?$/.exec(line);
    if (!m) throw new Error(`Not a Prometheus sample line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1] as string] = unescapeLabel(l[2] as string);
    // Values are Go floats: NaN and Inf in any case (prom-client writes "Nan").
    const raw = (m[3] as string).toLowerCase();
    const value = raw === '+inf' || raw === 'inf' ? Infinity : raw === '-inf' ? -Infinity : raw === 'nan' ? Number.NaN : Number(raw);
    if (Number.isNaN(value) && raw !== 'nan') throw new Error(`Not a sample value: ${JSON.stringify(line)}`);
    out.samples.push({ name: m[1] as string, labels, value });
  }
  return out;
}

/** The samples of one series name whose labels include `labels`. */
export function samplesOf(e: Exposition, name: string, labels: Record<string, string> = {}): Sample[] {
  return e.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

/** The value of exactly one sample; throws when there is none or several. */
export function sampleValue(e: Exposition, name: string, labels: Record<string, string> = {}): number {
  const found = samplesOf(e, name, labels);
  if (found.length !== 1) throw new Error(`Expected one sample of ${name}${JSON.stringify(labels)}, found ${found.length}`);
  return (found[0] as Sample).value;
}

/** Scrapes /metrics at `address` and parses it; throws on a non-200 answer. */
export async function scrape(address: string): Promise<Exposition> {
  const reply = await httpRequest(address);
  if (reply.status !== 200) throw new Error(`GET /metrics answered ${reply.status}: ${reply.body}`);
  return parseExposition(reply.body);
}
