#!/usr/bin/env node
// The locksmithctl command: loads the TypeScript sources through tsx (no build step needed).
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/locksmithctl.ts');
