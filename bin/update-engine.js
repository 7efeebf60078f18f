#!/usr/bin/env -S node --max-semi-space-size=1
// The update-engine command (src/cli/update-engine.ts): the compiled build (bin/entry.js).
// A 1 MiB young generation: the apply's transport chunks die young and are swept by the frequent
// scavenges instead of piling up to V8's 64 MB external-memory trigger (docs/architecture.md).
import { start } from './entry.js';

await start('update-engine');
