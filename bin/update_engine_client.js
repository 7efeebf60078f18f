#!/usr/bin/env node
// The update_engine_client command: loads the TypeScript sources through tsx (no build step needed).
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/update-engine-client.ts');
