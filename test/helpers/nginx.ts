// nginx on 127.0.0.1 for the tests (test/omaha/multi-range.test.ts) and the peer benchmarks: a static server that costs little CPU (free port) serving
// one directory, and passing Omaha requests (/v1/update/) to `update-engine serve` so that the engine's
// payload URL points at nginx too (the dev server builds the codebase from the Host header). With
// `accessLog`, it logs each request's bytes sent, so that a benchmark counts what a client fetched.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';

export interface Nginx {
  origin: string;
  pid: number;
  /** The access log's size now: a mark to count from (0 without an access log). */
  mark(): Promise<number>;
  /** What nginx sent since `mark` for request paths starting with `prefix` (the access log must be on). */
  sentSince(mark: number, prefix: string): Promise<Served>;
  stop(): Promise<void>;
}

export interface Served {
  requests: number;
  /** Everything sent: status lines and headers included ($bytes_sent). */
  bytes: number;
  /** Response bodies only ($body_bytes_sent; multipart part headers included). */
  bodyBytes: number;
}

export interface NginxOptions {
  /** More directories to serve: URL prefix (e.g. "/casync/") -> directory. */
  aliases?: Record<string, string>;
  /** Log "$request_uri $status $bytes_sent $body_bytes_sent" per request, for sentSince(). */
  accessLog?: boolean;
  /** Send each response at most this fast (nginx's limit_rate, per request), to stand for a real link; 0 = no limit. */
  rateBytesPerSecond?: number;
}

/** Sums the access log lines after `mark` whose path starts with `prefix`. */
function countServed(log: string, prefix: string): Served {
  const served: Served = { requests: 0, bytes: 0, bodyBytes: 0 };
  for (const line of log.split('\n')) {
    const [uri, , bytes, bodyBytes] = line.split(' ');
    if (!uri?.startsWith(prefix) || bodyBytes === undefined) continue;
    served.requests++;
    served.bytes += Number(bytes);
    served.bodyBytes += Number(bodyBytes);
  }
  return served;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Starts nginx serving `root` at / and `payloadDir` at /payloads/0/; /v1/update/ goes to `omahaOrigin`. */
export async function startNginx(work: string, root: string, payloadDir: string, omahaOrigin: string, options: NginxOptions = {}): Promise<Nginx> {
  await mkdir(work, { recursive: true });
  const port = await freePort();
  const conf = join(work, 'nginx.conf');
  const accessLog = join(work, 'access.log');
  const aliases = Object.entries(options.aliases ?? {}).map(([prefix, path]) => `    location ${prefix} { alias ${path}/; }\n`);
  await writeFile(
    conf,
    `worker_processes 1;
daemon off;
user root;
pid ${join(work, 'nginx.pid')};
error_log ${join(work, 'error.log')} warn;
events { worker_connections 64; }
http {
  log_format sent '$request_uri $status $bytes_sent $body_bytes_sent';
  access_log ${options.accessLog ? `${accessLog} sent` : 'off'};
  sendfile on;
  tcp_nopush on;
  limit_rate ${Math.round(options.rateBytesPerSecond ?? 0)};
  client_body_temp_path ${join(work, 'body')};
  proxy_temp_path ${join(work, 'proxy')};
  fastcgi_temp_path ${join(work, 'fastcgi')};
  uwsgi_temp_path ${join(work, 'uwsgi')};
  scgi_temp_path ${join(work, 'scgi')};
  server {
    listen 127.0.0.1:${port};
    root ${root};
    location /v1/update/ { proxy_pass ${omahaOrigin}; proxy_set_header Host $http_host; }
    location /payloads/0/ { alias ${payloadDir}/; }
${aliases.join('')}  }
}
`,
  );
  const child: ChildProcess = spawn('nginx', ['-c', conf, '-p', work], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  for (let i = 0; ; i++) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/`, { method: 'HEAD' });
      await res.arrayBuffer();
      break;
    } catch {
      if (i > 100 || child.exitCode !== null)
        throw new Error(`nginx did not start: ${stderr}${await readFile(join(work, 'error.log'), 'utf8').catch(() => '')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    origin: `http://127.0.0.1:${port}`,
    pid: child.pid as number,
    mark: async () => (options.accessLog ? (await stat(accessLog).catch(() => ({ size: 0 }))).size : 0),
    async sentSince(mark, prefix) {
      if (!options.accessLog) throw new Error('nginx was started without an access log');
      const log = await readFile(accessLog);
      return countServed(log.subarray(mark).toString('utf8'), prefix);
    },
    async stop() {
      child.kill('SIGQUIT');
      await exited;
    },
  };
}
