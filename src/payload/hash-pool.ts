// SHA-256 off the main thread: a few worker threads, each holding streaming hashes (the payload file's
// hash, the whole image's) and doing one-shot block hashes. Shared memory is hashed in place, owned
// buffers are transferred, anything else is copied once. Every update resolves when it was hashed.
// A shared buffer (the block pool's) goes to a worker once; later messages name it by a number, since
// posting a SharedArrayBuffer costs far more than posting a few numbers (issue 17).

import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { UpdateEngineError } from '../errors.ts';

// Plain JavaScript, run with `eval: true`, so that workers need no TypeScript loader (tsx, vitest).
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const streams = new Map();
const shared = new Map();
parentPort.on('message', (m) => {
  try {
    if (m.shared !== undefined) {
      if (m.buf) shared.set(m.shared, m.buf);
      else m.buf = shared.get(m.shared);
    }
    if (m.op === 'open') { streams.set(m.id, createHash('sha256')); return; }
    if (m.op === 'update') {
      streams.get(m.id).update(new Uint8Array(m.buf, m.offset, m.length));
      parentPort.postMessage({ seq: m.seq });
    } else if (m.op === 'digest') {
      const digest = streams.get(m.id).digest();
      streams.delete(m.id);
      parentPort.postMessage({ seq: m.seq, digest });
    } else if (m.op === 'once') {
      parentPort.postMessage({ seq: m.seq, digest: createHash('sha256').update(new Uint8Array(m.buf, m.offset, m.length)).digest() });
    }
  } catch (e) {
    parentPort.postMessage({ seq: m.seq, error: String(e && e.message || e) });
  }
});
`;

interface Reply {
  seq: number;
  digest?: Uint8Array;
  error?: string;
}

/** Bytes of shared buffers a worker keeps by number at most (a block pool's; beyond it they are posted each time). */
const MAX_SHARED_BYTES = 256 * 1024 * 1024;

class HashWorker {
  readonly worker: Worker;
  pendingBytes = 0;
  private seq = 0;
  /** Shared buffers this worker already holds, by the number messages name them with. */
  private readonly shared = new Map<SharedArrayBuffer, number>();
  private sharedBytes = 0;
  private readonly waiting = new Map<number, { bytes: number; resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  private failure: Error | undefined;

  constructor() {
    // execArgv: [] keeps loaders of the parent (tsx, vitest) out: the worker is plain JavaScript.
    this.worker = new Worker(WORKER_SOURCE, { eval: true, execArgv: [] });
    this.worker.on('message', (r: Reply) => {
      const w = this.waiting.get(r.seq);
      if (!w) return;
      this.waiting.delete(r.seq);
      this.pendingBytes -= w.bytes;
      if (r.error !== undefined) w.reject(new UpdateEngineError('ERR_INTERNAL', `Hash worker failed: ${r.error}`));
      else w.resolve(r);
    });
    this.worker.on('error', (e) => this.failAll(e));
    this.worker.on('exit', () => this.failAll(new Error('hash worker exited')));
  }

  private failAll(e: Error): void {
    this.failure ??= e;
    for (const w of this.waiting.values()) w.reject(new UpdateEngineError('ERR_INTERNAL', `Hash worker failed: ${e.message}`, { cause: e }));
    this.waiting.clear();
    this.pendingBytes = 0;
  }

  request(message: Record<string, unknown>, data?: Uint8Array, transfer = false): Promise<Reply> {
    if (this.failure) return Promise.reject(new UpdateEngineError('ERR_INTERNAL', `Hash worker failed: ${this.failure.message}`));
    const seq = ++this.seq;
    const transferList: ArrayBuffer[] = [];
    if (data) {
      let view = data;
      const owned = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength;
      if (!(data.buffer instanceof SharedArrayBuffer) && !(transfer && owned)) {
        view = new Uint8Array(data.byteLength); // a copy (Buffer#slice would not copy)
        view.set(data);
      }
      Object.assign(message, { offset: view.byteOffset, length: view.byteLength });
      if (view.buffer instanceof SharedArrayBuffer) this.nameShared(message, view.buffer);
      else {
        transferList.push(view.buffer as ArrayBuffer);
        message.buf = view.buffer;
      }
    }
    const bytes = data?.byteLength ?? 0;
    this.pendingBytes += bytes;
    return new Promise((resolve, reject) => {
      this.waiting.set(seq, { bytes, resolve, reject });
      this.worker.postMessage({ ...message, seq }, transferList);
    });
  }

  /** Names `buffer` in `message` by its number, posting the buffer itself only the first time. */
  private nameShared(message: Record<string, unknown>, buffer: SharedArrayBuffer): void {
    const known = this.shared.get(buffer);
    if (known !== undefined) {
      message.shared = known;
      return;
    }
    message.buf = buffer;
    if (this.sharedBytes + buffer.byteLength > MAX_SHARED_BYTES) return;
    this.sharedBytes += buffer.byteLength;
    message.shared = this.shared.size;
    this.shared.set(buffer, this.shared.size);
  }

  post(message: Record<string, unknown>): void {
    this.worker.postMessage(message);
  }
}

/** Copies larger than this go to the worker a slice at a time through one shared buffer of this size. */
const SCRATCH_BYTES = 1024 * 1024;

/** A running SHA-256 in one worker; updates are hashed in the order they are given. */
export class WorkerHashStream {
  private static nextId = 0;
  private readonly id = ++WorkerHashStream.nextId;
  /** Set while a large copy is handed over through the scratch buffer: later updates follow it. */
  private queue: Promise<void> | undefined;
  private scratch: Uint8Array | undefined;

  constructor(private readonly worker: HashWorker) {
    worker.post({ op: 'open', id: this.id });
  }

  /** Bytes handed over but not hashed yet (bound queues with it). */
  get pendingBytes(): number {
    return this.worker.pendingBytes;
  }

  /**
   * Resolves once the bytes are hashed: shared memory may then be reused. `transfer`: the caller gives
   * up `data`; when it spans its whole ArrayBuffer, that is moved to the worker (no copy, and its memory
   * is freed there instead of adding to this thread's garbage). Views into a larger buffer are copied.
   */
  async update(data: Uint8Array, transfer = false): Promise<void> {
    if (data.byteLength === 0) return;
    const copied = !(data.buffer instanceof SharedArrayBuffer) && !(transfer && data.byteOffset === 0 && data.byteLength === data.buffer.byteLength);
    // A large copy (a payload's chunk index: 5 MiB for 4 GiB of squashfs, 20 MiB of ext4) goes through one
    // shared scratch buffer a slice at a time, instead of a whole copy moved to the worker and left there
    // as garbage; updates given meanwhile wait their turn, so that the order holds.
    const large = copied && data.byteLength > SCRATCH_BYTES;
    const post = async (): Promise<void> => {
      if (!large) {
        await this.worker.request({ op: 'update', id: this.id }, data, transfer);
        return;
      }
      this.scratch ??= new Uint8Array(new SharedArrayBuffer(SCRATCH_BYTES));
      for (let at = 0; at < data.byteLength; at += SCRATCH_BYTES) {
        const slice = data.subarray(at, at + SCRATCH_BYTES);
        this.scratch.set(slice);
        await this.worker.request({ op: 'update', id: this.id }, this.scratch.subarray(0, slice.byteLength));
      }
    };
    if (!this.queue && !large) return post();
    const turn = (this.queue ?? Promise.resolve()).then(post);
    this.queue = turn;
    const settled = () => {
      if (this.queue === turn) this.queue = undefined;
    };
    turn.then(settled, settled);
    await turn;
  }

  /** Resolves once every update given so far was handed over (a large copy's slices included); never rejects. */
  async drained(): Promise<void> {
    await this.queue?.catch(() => undefined);
  }

  async digest(): Promise<Buffer> {
    await this.queue; // every update given before it (a failed one fails the digest too)
    const r = await this.worker.request({ op: 'digest', id: this.id });
    return Buffer.from(r.digest ?? new Uint8Array());
  }
}

/**
 * Hash workers for an apply: two, but one on a machine with two CPUs or fewer, where the main thread
 * (receive, write, read-back) and one worker already take both, and a second worker only competes
 * for them and costs its isolate's memory (about 8 MiB; issue 17).
 */
export function applyHashWorkers(cpus = availableParallelism()): number {
  return cpus <= 2 ? 1 : 2;
}

export class HashPool {
  private readonly workers: HashWorker[];

  constructor(workerCount = 2) {
    this.workers = Array.from({ length: Math.max(1, workerCount) }, () => new HashWorker());
  }

  /** A streaming hash pinned to worker `index` (modulo the pool size). */
  stream(index: number): WorkerHashStream {
    return new WorkerHashStream(this.workers[index % this.workers.length] as HashWorker);
  }

  /** SHA-256 of `data` on the least busy worker. */
  async hashOnce(data: Uint8Array, transfer = false): Promise<Buffer> {
    let best = this.workers[0] as HashWorker;
    for (const w of this.workers) if (w.pendingBytes < best.pendingBytes) best = w;
    const r = await best.request({ op: 'once' }, data, transfer);
    return Buffer.from(r.digest ?? new Uint8Array());
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
  }
}
