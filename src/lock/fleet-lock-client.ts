// A FleetLock client (the protocol of Fedora CoreOS's zincati and the airlock server) over got:
// POST <base>/v1/pre-reboot to take a reboot slot, POST <base>/v1/steady-state to give it back, each
// with the header `fleet-lock-protocol: true` and {"client_params":{"id","node_uuid","group"}}; any 2xx
// is success (as zincati's client), errors come as {"kind","value"}; the group must match ^[a-zA-Z0-9.-]+$.

import { redactUrl } from '../omaha/credential-policy.ts';
import { UpdateEngineError } from '../errors.ts';

/** A FleetLock answer longer than this is refused (they are a few hundred bytes). */
export const MAX_FLEET_LOCK_BODY_BYTES = 1024 * 1024;

export interface FleetLockClientOptions {
  /** The server's base URL (FLEET_LOCK_URL), e.g. http://airlock.example.net:3333/. */
  baseUrl: string;
  /** This node's id (its machine id). */
  id: string;
  /** FleetLock group; "" means "default", as zincati sends. */
  group: string;
  /** Per-request timeout; default 10 s. */
  timeoutMs?: number;
  /** Extra CA for an https:// server. */
  caPem?: Buffer | undefined;
}

/** The server's refusal, e.g. {"kind":"failed_lock","value":"semaphore currently full"}. */
export interface FleetLockRefusal {
  kind: string;
  value: string;
}

function parseRefusal(body: string): FleetLockRefusal | undefined {
  try {
    const v = JSON.parse(body) as { kind?: unknown; value?: unknown };
    if (typeof v.kind === 'string') return { kind: v.kind, value: typeof v.value === 'string' ? v.value : '' };
  } catch {
    // not JSON: reported with the status
  }
  return undefined;
}

/** FleetLock's rule for a group label (coreos/airlock docs/protocol-specs.md). */
export const FLEET_LOCK_GROUP_PATTERN = /^[a-zA-Z0-9.-]+$/;

export class FleetLockClient {
  private readonly options: FleetLockClientOptions;

  /** Throws ERR_CONFIG_VALUE when the group breaks FleetLock's rule (the server would refuse every request). */
  constructor(options: FleetLockClientOptions) {
    this.options = options;
    if (!FLEET_LOCK_GROUP_PATTERN.test(this.group)) {
      throw new UpdateEngineError(
        'ERR_CONFIG_VALUE',
        `LOCKSMITHD_GROUP "${options.group}" is not a FleetLock group: letters, digits, "." and "-" only (^[a-zA-Z0-9.-]+$)`,
      );
    }
  }

  private get group(): string {
    return this.options.group === '' ? 'default' : this.options.group;
  }

  /** Asks for a reboot slot. Throws ERR_LOCK_UNAVAILABLE when the server refuses, ERR_LOCK_STORE when it cannot be asked. */
  preReboot(signal?: AbortSignal): Promise<void> {
    return this.call('v1/pre-reboot', 'take a reboot slot from', signal);
  }

  /** Reports steady state: gives back any slot this node holds (idempotent on the server). */
  steadyState(signal?: AbortSignal): Promise<void> {
    return this.call('v1/steady-state', 'give back the reboot slot to', signal);
  }

  private async call(path: string, what: string, signal?: AbortSignal): Promise<void> {
    const base = this.options.baseUrl.endsWith('/') ? this.options.baseUrl : `${this.options.baseUrl}/`;
    const url = new URL(path, base);
    let res: { statusCode: number; body: string };
    try {
      // got is loaded when first needed: a daemon that never takes a FleetLock slot does not hold it (about 15 MiB).
      const { got } = await import('got');
      // Streamed with a cap: a hostile server cannot make us buffer an endless answer (issue 14).
      const stream = got.stream.post(url, {
        headers: { 'fleet-lock-protocol': 'true' },
        // The spec names the holder "id"; airlock (and older zincati) read "node_uuid": send both.
        json: { client_params: { id: this.options.id, node_uuid: this.options.id, group: this.group } },
        throwHttpErrors: false,
        retry: { limit: 0 },
        timeout: { request: this.options.timeoutMs ?? 10_000 },
        https: { certificateAuthority: this.options.caPem },
        ...(signal ? { signal } : {}),
      });
      let statusCode = 0;
      stream.once('response', (r: { statusCode: number }) => (statusCode = r.statusCode));
      const chunks: Buffer[] = [];
      let total = 0;
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        total += chunk.length;
        if (total > MAX_FLEET_LOCK_BODY_BYTES) {
          stream.destroy();
          throw new UpdateEngineError(
            'ERR_LOCK_STORE',
            `The FleetLock server "${redactUrl(url.href)}" sent an answer over ${MAX_FLEET_LOCK_BODY_BYTES} bytes; not read further`,
          );
        }
        chunks.push(chunk);
      }
      res = { statusCode, body: Buffer.concat(chunks).toString('utf8') };
    } catch (e) {
      if (signal?.aborted) throw signal.reason;
      if (e instanceof UpdateEngineError) throw e;
      throw new UpdateEngineError('ERR_LOCK_STORE', `Cannot ${what} the FleetLock server "${redactUrl(url.href)}": ${(e as Error).message}`, { cause: e });
    }
    // The spec says 200; zincati's client takes any 2xx (StatusCode::is_success), and so do we.
    if (res.statusCode >= 200 && res.statusCode <= 299) return;
    const refusal = parseRefusal(res.body);
    const reason = refusal ? `${refusal.kind}: ${refusal.value}` : `HTTP ${res.statusCode}`;
    const code = res.statusCode >= 500 && !refusal ? 'ERR_LOCK_STORE' : 'ERR_LOCK_UNAVAILABLE';
    throw new UpdateEngineError(
      code,
      `The FleetLock server "${redactUrl(url.href)}" refused to ${what.replace(/ (from|to)$/, '')} for "${this.options.id}" (group "${this.group}"): ${reason}`,
      {
        details: { status: res.statusCode, ...(refusal ? { kind: refusal.kind } : {}) },
      },
    );
  }
}
