#!/usr/bin/env -S MALLOC_MMAP_THRESHOLD_=131072 node --max-semi-space-size=1
// The update-engine command (src/cli/update-engine.ts): the compiled build (bin/entry.js).
// A 1 MiB young generation: the apply's transport chunks die young and are swept by the frequent
// scavenges instead of piling up to V8's 64 MB external-memory trigger (docs/architecture.md).
// A fixed malloc mmap threshold (128 KiB, glibc's default start): glibc otherwise raises it to the
// size of the largest buffer freed (the 4 MiB seed reads of a delta, a 1 MiB block), after which
// buffers of up to that size come from the main heap and stay resident once freed; the daemon's peak
// RSS then varied between 106 and 138 MiB from run to run of the same 1 GiB apply (issue 17). glibc
// read it at start; the commands the daemon runs do not inherit it.
import { start } from './entry.js';

delete process.env.MALLOC_MMAP_THRESHOLD_;

await start('update-engine');
