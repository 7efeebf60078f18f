// Test-only: a full garbage collection on demand, to check with WeakRefs that nothing keeps consumed
// buffers reachable. Production code never collects by hand.

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Runs a full collection; throws when the runtime offers none. */
export function collectGarbage(): void {
  // --expose-gc makes `gc` available in contexts created from now on; a fresh context hands it out.
  setFlagsFromString('--expose-gc');
  const gc: unknown = runInNewContext('gc');
  if (typeof gc !== 'function') throw new Error('this runtime offers no garbage collector to call');
  (gc as () => void)();
}
