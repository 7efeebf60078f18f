// casync as the peer: chunk the new image into a store (casync make), serve the store on 127.0.0.1,
// and let casync extract the new image over HTTP with the old image as seed. Counts the bytes the
// server sent and checks that the result equals the new image.

import { execFile } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join, normalize } from 'node:path';
import { promisify } from 'node:util';
import { createHash } from 'node:crypto';

const exec = promisify(execFile);

async function fileSha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export interface CasyncResult {
  fetchBytes: number;
  requests: number;
  storeBytes: number;
  seconds: number;
}

/** Chunks `image` into a chunk store (casync's defaults: 16/64/256 KiB chunks, zstd) and writes its index. */
export async function casyncMake(image: string, store: string, index: string): Promise<void> {
  await mkdir(store, { recursive: true });
  await exec('casync', ['make', `--store=${store}`, index, image]);
}

/** Extracts `index` (a path or URL) into `out` from the store at `storeUrl`, reusing what `seed` holds; times it. */
export async function casyncExtract(storeUrl: string, index: string, seed: string, out: string): Promise<number> {
  await rm(out, { force: true });
  const started = performance.now();
  await exec('casync', ['extract', `--store=${storeUrl}`, `--seed=${seed}`, '--seed-output=no', index, out]);
  return (performance.now() - started) / 1000;
}

export async function casyncDelta(oldImage: string, newImage: string, work: string): Promise<CasyncResult> {
  const store = join(work, 'store');
  await rm(work, { recursive: true, force: true });
  const index = join(work, 'new.caibx');
  await casyncMake(newImage, store, index);
  const { stdout: du } = await exec('du', ['-sb', store]);
  let fetchBytes = 0;
  let requests = 0;
  const server = createServer((req, res) => {
    const path = normalize(join(store, decodeURIComponent((req.url ?? '/').split('?')[0]!)));
    if (!path.startsWith(store)) {
      res.writeHead(403).end();
      return;
    }
    requests++;
    readFile(path).then(
      (body) => {
        fetchBytes += body.length;
        res.writeHead(200, { 'content-length': body.length }).end(body);
      },
      () => res.writeHead(404).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const out = join(work, 'out.img');
  let seconds: number;
  try {
    seconds = await casyncExtract(`http://127.0.0.1:${port}/`, index, oldImage, out);
  } finally {
    server.close();
  }
  if ((await fileSha256(out)) !== (await fileSha256(newImage))) throw new Error('casync extract did not reproduce the new image');
  await stat(out);
  return { fetchBytes, requests, storeBytes: Number(du.split(/\s/)[0]), seconds };
}
