// The benchmark's Omaha and payload server: `update-engine serve --payload FILE` from the same build,
// in its own process, so that its CPU time is measured on its own and not mixed with the benchmark's.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { basename } from 'node:path';

export interface ServeProcess {
  pid: number;
  /** Omaha update URL (SERVER). */
  updateUrl: string;
  /** The payload's own URL (for curl). */
  payloadUrl: string;
  close(): Promise<void>;
}

/** Starts the server and waits for its "listening" line (it hashes the payload first). */
export async function startServe(entry: string, payloadPath: string): Promise<ServeProcess> {
  const child = spawn(process.execPath, [entry, 'serve', '--payload', payloadPath, '--host', '127.0.0.1', '--port', '0'], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const updateUrl = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /^listening (http:\/\/\S+\/v1\/update\/)$/m.exec(out);
      if (m) resolve(m[1] as string);
    });
    child.on('exit', (code) => reject(new Error(`update-engine serve exited (${code}): ${stderr.trim()}`)));
  });
  const origin = new URL(updateUrl).origin;
  return {
    pid: child.pid as number,
    updateUrl,
    payloadUrl: `${origin}/payloads/0/${basename(payloadPath)}`,
    close: async () => {
      if (child.exitCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    },
  };
}
