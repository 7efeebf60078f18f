#!/usr/bin/env node
// The update-engine command (src/cli/update-engine.ts): compiled when built, else through tsx (bin/entry.js).
import { start } from './entry.js';

await start('update-engine');
