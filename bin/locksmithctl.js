#!/usr/bin/env node
// The locksmithctl command (src/cli/locksmithctl.ts): the compiled build (bin/entry.js).
import { start } from './entry.js';

await start('locksmithctl');
