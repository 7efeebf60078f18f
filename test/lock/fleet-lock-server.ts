// A small FleetLock server for tests (what airlock does, in memory): per-group semaphores of `max`
// slots, POST /v1/pre-reboot and /v1/steady-state, the fleet-lock-protocol header required.

import { createServer, type Server } from 'node:http';

export interface FleetLockServer {
  url: string;
  /** Holders per group. */
  holders: Map<string, Set<string>>;
  /** Every request: path and body. */
  requests: { path: string; body: unknown; protocolHeader: string | undefined }[];
  close(): Promise<void>;
}

export async function startFleetLockServer(max = 1): Promise<FleetLockServer> {
  const holders = new Map<string, Set<string>>();
  const requests: FleetLockServer['requests'] = [];
  const server: Server = createServer((req, res) => {
    let text = '';
    req.setEncoding('utf8').on('data', (d: string) => (text += d));
    req.on('end', () => {
      const reply = (status: number, body?: object) => res.writeHead(status, { 'content-type': 'application/json' }).end(body ? JSON.stringify(body) : '');
      let body: { client_params?: { id?: string; group?: string } } = {};
      try {
        body = JSON.parse(text) as typeof body;
      } catch {
        return reply(400, { kind: 'bad_request', value: 'not JSON' });
      }
      requests.push({ path: req.url ?? '', body, protocolHeader: req.headers['fleet-lock-protocol'] as string | undefined });
      if (req.method !== 'POST') return reply(405, { kind: 'method_not_allowed', value: String(req.method) });
      if (req.headers['fleet-lock-protocol'] !== 'true') return reply(400, { kind: 'missing_header', value: 'fleet-lock-protocol' });
      const id = body.client_params?.id;
      const group = body.client_params?.group;
      if (!id || !group) return reply(400, { kind: 'bad_request', value: 'missing client_params' });
      const set = holders.get(group) ?? new Set<string>();
      holders.set(group, set);
      if (req.url === '/v1/pre-reboot') {
        if (set.has(id) || set.size < max) {
          set.add(id);
          return reply(200);
        }
        return reply(409, { kind: 'failed_lock', value: 'semaphore currently full' });
      }
      if (req.url === '/v1/steady-state') {
        set.delete(id);
        return reply(200);
      }
      return reply(404, { kind: 'not_found', value: String(req.url) });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { url: `http://127.0.0.1:${port}/`, holders, requests, close: () => new Promise<void>((r) => server.close(() => r())) };
}
