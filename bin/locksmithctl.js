#!/usr/bin/env node
// The locksmithctl command (src/cli/locksmithctl.ts): compiled when built, else through tsx (bin/entry.js).
import { start } from './entry.js';

await start('locksmithctl');
