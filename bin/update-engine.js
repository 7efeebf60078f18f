#!/usr/bin/env node
// The update-engine command: loads the TypeScript sources through tsx (no build step needed).
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/update-engine.ts');
