// One full garbage collection, for the rare moment a large buffer was let go and nothing else would
// collect it soon: a full update that dropped the chunk index it read (20 MiB for 4 GiB of ext4,
// with its lookup and samples more). Large buffers outlive two scavenges while the header is read and
// the booted slot sampled, so they sit in the old generation until a mark-compact, which a streaming
// apply (little garbage on V8's heap) may not need for the rest of the update: the RSS stayed 15-25 MiB
// higher. A mark-compact of the daemon's heap takes about 5 ms. The collector is reached without
// --expose-gc on the command line, so that no global `gc` exists for anything else to call.

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let collector: (() => void) | undefined;

export function collectGarbage(): void {
  if (!collector) {
    setFlagsFromString('--expose-gc');
    collector = runInNewContext('gc') as () => void;
  }
  collector();
}
