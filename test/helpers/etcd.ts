// Starts a real etcd (Debian's etcd 3.4) for tests and benchmarks: one member or a 3-member cluster on
// free loopback ports, each with its own temp data dir; waits for /health; stops by pid; removes the dir.
// Optional TLS (certificates made with openssl by makeEtcdCertificates) and the v2 API.

import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireTool } from './tools.ts';

export interface EtcdTlsFiles {
  caFile: string;
  serverCertFile: string;
  serverKeyFile: string;
  clientCertFile: string;
  clientKeyFile: string;
}

export interface EtcdStartOptions {
  /** 1 (default) or 3 members. */
  members?: 1 | 3;
  /** Serve the v2 API too (--enable-v2=true). */
  enableV2?: boolean;
  /** Serve clients over TLS with these files; with clientCertAuth, clients must present a certificate. */
  tls?: EtcdTlsFiles & { clientCertAuth?: boolean };
}

export interface EtcdMember {
  name: string;
  clientUrl: string;
  peerUrl: string;
  dataDir: string;
  process: ChildProcess | undefined;
  /** Stops this member (SIGTERM, then SIGKILL after 5 s) by its own pid. */
  stop(): Promise<void>;
  /** Starts it again on the same ports and data dir (it rejoins the cluster) and waits until healthy. */
  restart(): Promise<void>;
}

export interface EtcdCluster {
  members: EtcdMember[];
  /** Client URLs of all members. */
  endpoints: string[];
  dir: string;
  /** Stops every member and removes the data dirs. */
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (bind to 0, read, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function stopProcess(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** GETs url until it answers 200 with {"health":"true"} or the time is up. */
async function waitHealthy(url: string, tls: EtcdStartOptions['tls'], child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`etcd exited with ${child.exitCode} before it was healthy:\n${output()}`);
    const healthy = await new Promise<boolean>((resolve) => {
      const options = tls
        ? { ca: readFileSync(tls.caFile), cert: readFileSync(tls.clientCertFile), key: readFileSync(tls.clientKeyFile), timeout: 1000 }
        : { timeout: 1000 };
      const req = (tls ? httpsRequest : httpRequest)(`${url}/health`, options, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d: string) => (body += d));
        res.on('end', () => resolve(res.statusCode === 200 && body.includes('"true"')));
      });
      req.on('error', () => resolve(false));
      req.on('timeout', () => req.destroy());
      req.end();
    });
    if (healthy) return;
    if (Date.now() > deadline) throw new Error(`etcd at ${url} was not healthy within 20 s:\n${output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Starts etcd (one member or three) on free loopback ports and waits until every member is healthy.
 * A port found free can be taken by another test before etcd binds it: then new ports are tried.
 */
export async function startEtcd(options: EtcdStartOptions = {}): Promise<EtcdCluster> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startEtcdOnce(options);
    } catch (e) {
      if (attempt >= 3 || !/address already in use/.test(String((e as Error).message))) throw e;
    }
  }
}

async function startEtcdOnce(options: EtcdStartOptions): Promise<EtcdCluster> {
  requireTool('etcd');
  const count = options.members ?? 1;
  const dir = mkdtempSync(join(tmpdir(), 'ue-etcd-'));
  const scheme = options.tls ? 'https' : 'http';
  const specs = [];
  for (let i = 0; i < count; i++) {
    specs.push({ name: `m${i}`, clientUrl: `${scheme}://127.0.0.1:${await freePort()}`, peerUrl: `http://127.0.0.1:${await freePort()}` });
  }
  const initialCluster = specs.map((s) => `${s.name}=${s.peerUrl}`).join(',');
  const members: EtcdMember[] = [];
  const outputs: string[] = [];
  for (const [i, spec] of specs.entries()) {
    const dataDir = join(dir, spec.name);
    const args = [
      '--name',
      spec.name,
      '--data-dir',
      dataDir,
      '--listen-client-urls',
      spec.clientUrl,
      '--advertise-client-urls',
      spec.clientUrl,
      '--listen-peer-urls',
      spec.peerUrl,
      '--initial-advertise-peer-urls',
      spec.peerUrl,
      '--initial-cluster',
      initialCluster,
      '--initial-cluster-state',
      'new',
      '--initial-cluster-token',
      `ue-${process.pid}-${dir.slice(-6)}`,
      '--logger=zap',
      '--log-level=error',
      // Fast for one member; a cluster gets more slack so that a loaded test machine does not flap leaders.
      ...(count === 1 ? ['--heartbeat-interval=10', '--election-timeout=100'] : ['--heartbeat-interval=25', '--election-timeout=250']),
    ];
    if (options.enableV2) args.push('--enable-v2=true');
    if (options.tls) {
      args.push('--cert-file', options.tls.serverCertFile, '--key-file', options.tls.serverKeyFile);
      // etcd turns on client-certificate checking whenever --trusted-ca-file is given.
      if (options.tls.clientCertAuth) args.push('--client-cert-auth', '--trusted-ca-file', options.tls.caFile);
    }
    outputs[i] = '';
    const launch = (): ChildProcess => {
      const child = spawn('/usr/bin/etcd', args, { stdio: ['ignore', 'ignore', 'pipe'] });
      child.stderr?.setEncoding('utf8').on('data', (d: string) => {
        outputs[i] = ((outputs[i] ?? '') + d).slice(-4000);
      });
      return child;
    };
    const member: EtcdMember = {
      ...spec,
      dataDir,
      process: launch(),
      stop: () => stopProcess(member.process),
      restart: async () => {
        await stopProcess(member.process);
        member.process = launch();
        await waitHealthy(member.clientUrl, options.tls, member.process, () => outputs[i] ?? '');
      },
    };
    members.push(member);
  }
  const cluster: EtcdCluster = {
    members,
    endpoints: members.map((m) => m.clientUrl),
    dir,
    stop: async () => {
      await Promise.all(members.map((m) => m.stop()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await Promise.all(members.map((m, i) => waitHealthy(m.clientUrl, options.tls, m.process as ChildProcess, () => outputs[i] ?? '')));
  } catch (e) {
    await cluster.stop();
    throw e;
  }
  return cluster;
}

/** Makes a CA, a server certificate for 127.0.0.1/localhost and a client certificate with openssl, in dir. */
export function makeEtcdCertificates(dir: string): EtcdTlsFiles {
  requireTool('openssl');
  const f = (name: string) => join(dir, name);
  const run = (args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  run([
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    f('ca.key'),
    '-out',
    f('ca.pem'),
    '-days',
    '2',
    '-subj',
    '/CN=update-engine test CA',
  ]);
  const issue = (name: string, subject: string, extensions: string) => {
    run([
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      f(`${name}.key`),
      '-out',
      f(`${name}.csr`),
      '-subj',
      subject,
    ]);
    writeFileSync(f(`${name}.ext`), `${extensions}\n`);
    run([
      'x509',
      '-req',
      '-in',
      f(`${name}.csr`),
      '-CA',
      f('ca.pem'),
      '-CAkey',
      f('ca.key'),
      '-CAcreateserial',
      '-out',
      f(`${name}.pem`),
      '-days',
      '2',
      '-extfile',
      f(`${name}.ext`),
    ]);
  };
  issue('server', '/CN=127.0.0.1', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth');
  issue('client', '/CN=update-engine test client', 'extendedKeyUsage=clientAuth');
  return {
    caFile: f('ca.pem'),
    serverCertFile: f('server.pem'),
    serverKeyFile: f('server.key'),
    clientCertFile: f('client.pem'),
    clientKeyFile: f('client.key'),
  };
}
