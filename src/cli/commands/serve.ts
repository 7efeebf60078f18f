// update-engine serve (../shared/CLI.md).

import { notImplemented, type Command } from '../run.ts';

export const run: Command = async () => notImplemented('serve');
