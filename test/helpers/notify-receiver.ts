// A stand-in for systemd's notify socket: a Unix datagram socket read by a small python3 program with
// SO_PASSCRED, as systemd reads it. Each datagram becomes {pid (the sender's credentials), text}; file
// descriptors passed with it (systemd-notify's barrier) are closed, as systemd does once it has read.

import { spawn, type ChildProcess } from 'node:child_process';
import { requireTool } from './tools.ts';

/** Prints one JSON line per datagram: the sender's pid (SCM_CREDENTIALS) and the text; closes passed fds (the barrier). */
const RECEIVER = `
import json, os, socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
print(json.dumps({"bound": True}), flush=True)
while True:
    data, anc, flags, addr = s.recvmsg(65536, socket.CMSG_SPACE(12) + socket.CMSG_SPACE(4 * 16))
    pid = None
    for level, kind, payload in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = struct.unpack("iII", payload[:12])[0]
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            for fd in struct.unpack("%di" % (len(payload) // 4), payload[: len(payload) // 4 * 4]):
                os.close(fd)
    print(json.dumps({"pid": pid, "text": data.decode()}), flush=True)
`;

export interface Datagram {
  pid: number | null;
  text: string;
}

/** Starts the receiver on `path`; every datagram is pushed to `into`. Kill the returned process when done. */
export async function startNotifyReceiver(path: string, into: Datagram[]): Promise<ChildProcess> {
  requireTool('python3');
  requireTool('systemd-notify');
  const child = spawn('python3', ['-c', RECEIVER, path], { stdio: ['ignore', 'pipe', 'inherit'] });
  let buffer = '';
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the notify receiver exited with ${code}`)));
    child.stdout.on('data', (d: Buffer) => {
      buffer += d.toString();
      for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
        const line = JSON.parse(buffer.slice(0, nl)) as Datagram & { bound?: boolean };
        buffer = buffer.slice(nl + 1);
        if (line.bound) resolve();
        else into.push(line);
      }
    });
  });
  return child;
}
