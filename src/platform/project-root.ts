// The directory the project is installed in (where package.json is), found from this file's place;
// works both from the TypeScript sources (src/) and the compiled build (dist/src/).

import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function find(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'bin', 'update-engine.js'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('Cannot find the update-engine installation directory');
    dir = parent;
  }
}

export const PROJECT_ROOT = find();
