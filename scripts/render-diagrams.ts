// Renders the README's diagrams into img/ from their text sources in scripts/diagrams.
// Run: node bin/run-ts.js scripts/render-diagrams.ts   (a test checks that img/ is current)

import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderUpdatePath } from './diagrams/update-path.ts';
import { renderStateMachine } from './diagrams/state-machine.ts';
import { renderSlotLifecycle } from './diagrams/slot-lifecycle.ts';

/** img/<name> -> renderer. */
export const DIAGRAMS: Record<string, () => string> = {
  'update-path.svg': renderUpdatePath,
  'state-machine.svg': renderStateMachine,
  'slot-lifecycle.svg': renderSlotLifecycle,
};

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const [name, render] of Object.entries(DIAGRAMS)) {
    writeFileSync(new URL(`../img/${name}`, import.meta.url), render());
    process.stdout.write(`wrote img/${name}\n`);
  }
}
