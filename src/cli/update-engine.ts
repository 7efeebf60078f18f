// The update-engine command's entry point.

import { main } from './run.ts';
import { run } from './dispatch.ts';

main('update-engine', run);
