// EtcdLockStore: the LockStore port on etcd's v3 API through the etcd3 client (gRPC). etcd3 gives
// endpoint failover (shuffled hosts, retries, per-host circuit breakers), watch streams that resume
// after a reconnect, lease keep-alive, TLS with a CA alone or with a client certificate, and auth.

import { Etcd3, isRecoverableError, type IOptions, type Lease, type Watcher } from 'etcd3';
// cockatiel is etcd3's own fault-handling dependency (installed with it); its defaults are tuned here.
import { ConsecutiveBreaker, ExponentialBackoff, circuitBreaker, handleWhen, isBrokenCircuitError, retry } from 'cockatiel';
import { UpdateEngineError } from '../errors.ts';
import type { Guard, LockStore, PrefixRead, StoredValue, WatchHandle, WriteOp } from './lock-store.ts';

/** How to reach etcd. Certificates and keys are passed as file contents (see loadEtcdOptions). */
export interface EtcdConnectionOptions {
  endpoints: readonly string[];
  caPem?: Buffer;
  certPem?: Buffer;
  keyPem?: Buffer;
  username?: string;
  password?: string;
  /** Deadline of each unary call (get, txn, lease grant); default 5 s. */
  callTimeoutMs?: number;
  /** TTL of the session lease in seconds (liveness and waiter keys vanish this long after a crash); default 15. */
  sessionTtlSeconds?: number;
}

interface RawKeyValue {
  key: Buffer;
  value: Buffer;
  mod_revision: string;
  create_revision: string;
  lease: string;
}

function toStored(kv: RawKeyValue): StoredValue {
  return {
    key: kv.key.toString('utf8'),
    value: kv.value.toString('utf8'),
    modRevision: String(kv.mod_revision),
    createRevision: String(kv.create_revision),
    leased: String(kv.lease) !== '0',
  };
}

export class EtcdLockStore implements LockStore {
  readonly description: string;
  private readonly client: Etcd3;
  private readonly callTimeoutMs: number;
  private readonly sessionTtlSeconds: number;
  private lease: Lease | undefined;
  private leaseId: Promise<string> | undefined;
  private readonly lostCallbacks: (() => void)[] = [];
  private readonly watchers = new Set<Watcher>();
  private closed = false;

  constructor(options: EtcdConnectionOptions) {
    if (options.endpoints.length === 0) throw new UpdateEngineError('ERR_CONFIG_VALUE', 'No etcd endpoints are configured (LOCKSMITHD_ENDPOINT)');
    this.description = options.endpoints.join(',');
    this.callTimeoutMs = options.callTimeoutMs ?? 5000;
    this.sessionTtlSeconds = options.sessionTtlSeconds ?? 15;
    const secure = options.endpoints.some((e) => e.startsWith('https:')) || options.caPem !== undefined || options.certPem !== undefined;
    const config: IOptions = {
      hosts: [...options.endpoints],
      dialTimeout: this.callTimeoutMs,
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + this.callTimeoutMs }),
      faultHandling: {
        // etcd3's defaults (3 tries; a failing host shunned for 5 s; no retry once every host is shunned)
        // failed at once when members restarted one after another: shun a failing host for 1 s only,
        // and retry (also when every host is shunned) with backoff for about 4 s.
        host: () => circuitBreaker(handleWhen(isRecoverableError), { halfOpenAfter: 1000, breaker: new ConsecutiveBreaker(3) }),
        global: retry(
          handleWhen((e) => isRecoverableError(e) || isBrokenCircuitError(e)),
          {
            maxAttempts: Math.max(5, 3 * options.endpoints.length),
            backoff: new ExponentialBackoff({ initialDelay: 50, maxDelay: 1000 }),
          },
        ),
      },
    };
    if (secure) {
      // grpc's createSsl takes null for "the system's roots": a CA alone, a client certificate alone, or both.
      const rootCertificate = (options.caPem ?? null) as Buffer;
      config.credentials = { rootCertificate };
      if (options.certPem && options.keyPem) config.credentials = { rootCertificate, certChain: options.certPem, privateKey: options.keyPem };
    }
    if (options.username !== undefined && options.username !== '') {
      config.auth = { username: options.username, password: options.password ?? '' };
    }
    this.client = new Etcd3(config);
  }

  private fail(what: string, e: unknown): UpdateEngineError {
    if (e instanceof UpdateEngineError) return e;
    // grpc-js appends an empty "Resolution note:" to connection errors.
    const reason = (e instanceof Error ? (e.message.split('\n')[0] ?? '') : String(e)).replace(/\.? ?Resolution note:.*$/, '').trim();
    return new UpdateEngineError('ERR_LOCK_STORE', `Cannot ${what} on etcd at "${this.description}": ${reason}`, { cause: e });
  }

  async get(key: string): Promise<StoredValue | undefined> {
    try {
      const res = await this.client.get(key).exec();
      const kv = res.kvs[0] as RawKeyValue | undefined;
      return kv ? toStored(kv) : undefined;
    } catch (e) {
      throw this.fail(`read "${key}"`, e);
    }
  }

  async getPrefix(prefix: string): Promise<PrefixRead> {
    try {
      const res = await this.client.getAll().prefix(prefix).exec();
      return { revision: String(res.header.revision), values: (res.kvs as RawKeyValue[]).map(toStored) };
    } catch (e) {
      throw this.fail(`read the keys under "${prefix}"`, e);
    }
  }

  async commit(guards: readonly Guard[], ops: readonly WriteOp[]): Promise<boolean> {
    try {
      const needsLease = ops.some((o) => o.op === 'put' && o.leased === true);
      const leaseId = needsLease ? await this.sessionLease() : undefined;
      const clauses = ops.map((o) => {
        if (o.op === 'delete') return this.client.delete().key(o.key);
        const put = this.client.put(o.key).value(o.value);
        return o.leased === true && leaseId !== undefined ? put.lease(leaseId) : put;
      });
      const [first, ...rest] = guards;
      if (first === undefined) {
        // No condition: one unconditional transaction (etcd3's builder always starts with a comparison).
        const res = await this.client.kv.txn({ compare: [], success: await Promise.all(clauses.map((c) => c.op())), failure: [] });
        return res.succeeded;
      }
      const column = (g: Guard) => ('absent' in g ? 'Version' : 'Mod');
      const value = (g: Guard) => ('absent' in g ? 0 : g.modRevision);
      let txn = this.client.if(first.key, column(first), '==', value(first));
      for (const g of rest) txn = txn.and(g.key, column(g), '==', value(g));
      const res = await txn.then(...clauses).commit();
      return res.succeeded;
    } catch (e) {
      throw this.fail(`write the keys ${JSON.stringify(ops.map((o) => o.key))}`, e);
    }
  }

  async watch(prefix: string, afterRevision: string, onChange: () => void): Promise<WatchHandle> {
    const watcher = this.client
      .watch()
      .prefix(prefix)
      .startRevision((BigInt(afterRevision) + 1n).toString())
      .watcher();
    this.watchers.add(watcher);
    watcher.on('data', () => onChange());
    watcher.on('connected', () => onChange());
    // An unhandled 'error' would crash the process; the caller re-reads and its backoff timer covers gaps.
    watcher.on('error', () => onChange());
    return {
      close: async () => {
        this.watchers.delete(watcher);
        await watcher.cancel().catch(() => undefined);
      },
    };
  }

  sessionLease(): Promise<string> {
    if (this.closed) return Promise.reject(new UpdateEngineError('ERR_LOCK_STORE', `The etcd client for "${this.description}" is closed`));
    if (this.leaseId === undefined) {
      const lease = this.client.lease(this.sessionTtlSeconds, { autoKeepAlive: true });
      this.lease = lease;
      lease.on('lost', () => {
        if (this.lease !== lease) return;
        this.lease = undefined;
        this.leaseId = undefined;
        for (const cb of this.lostCallbacks) cb();
      });
      this.leaseId = lease.grant().then(String, (e: unknown) => {
        if (this.lease === lease) {
          this.lease = undefined;
          this.leaseId = undefined;
        }
        throw this.fail('grant a lease', e);
      });
    }
    return this.leaseId;
  }

  onSessionLost(callback: () => void): void {
    this.lostCallbacks.push(callback);
  }

  async ping(timeoutMs: number): Promise<void> {
    try {
      await this.client
        .get('coreos.com/updateengine/rebootlock/semaphore')
        .options({ deadline: Date.now() + timeoutMs })
        .exec();
    } catch (e) {
      throw this.fail('read', e);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.watchers) await w.cancel().catch(() => undefined);
    this.watchers.clear();
    const lease = this.lease;
    this.lease = undefined;
    this.leaseId = undefined;
    if (lease) await lease.revoke({ deadline: Date.now() + this.callTimeoutMs }).catch(() => undefined);
    this.client.close();
  }
}
