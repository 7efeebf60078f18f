// A man in the middle of the plain-http Omaha exchange, for the hostile-network tests: forwards each
// POST to the lab's development server and rewrites the answer (the payload codebase, attributes)
// before the client sees it. Records the Authorization headers it was sent.

import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface OmahaRewriter {
  /** The URL to use as SERVER. */
  updateUrl: string;
  authorizations: string[];
  close(): Promise<void>;
}

/** `upstream` is the lab server's update URL; `rewrite` edits the answer's XML text. */
export async function startOmahaRewriter(upstream: () => string, rewrite: (xml: string) => string): Promise<OmahaRewriter> {
  const authorizations: string[] = [];
  const server = http.createServer((req, res) => {
    if (req.headers.authorization) authorizations.push(req.headers.authorization);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const up = http.request(upstream(), { method: 'POST', headers: { 'content-type': 'text/xml' } }, (u) => {
        const body: Buffer[] = [];
        u.on('data', (c: Buffer) => body.push(c));
        u.on('end', () => {
          res.writeHead(u.statusCode ?? 502, { 'content-type': 'text/xml' });
          res.end(rewrite(Buffer.concat(body).toString('utf8')));
        });
      });
      up.on('error', () => res.destroy());
      up.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    updateUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/update/`,
    authorizations,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
