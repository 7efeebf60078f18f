// update-engine boot-sim (../shared/CLI.md).

import { notImplemented, type Command } from '../run.ts';

export const run: Command = async () => notImplemented('boot-sim');
