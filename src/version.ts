// The project's version, read once from package.json (the one place it is written), whether this
// module runs from src/ (tests, `npm run dev`) or from the compiled dist/src/.

import { readFileSync } from 'node:fs';

function readVersion(): string {
  for (const relative of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(relative, import.meta.url), 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'update-engine' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // not this level; try the next one up
    }
  }
  throw new Error('package.json of update-engine not found next to src/ or dist/');
}

/** The version of update-engine, e.g. "0.1.0". */
export const VERSION = readVersion();
