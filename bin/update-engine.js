#!/usr/bin/env node
// The update-engine command (src/cli/update-engine.ts): the compiled build (bin/entry.js).
import { start } from './entry.js';

await start('update-engine');
