#!/usr/bin/env node
// The update_engine_client command (src/cli/update-engine-client.ts): the compiled build (bin/entry.js).
import { start } from './entry.js';

await start('update-engine-client');
