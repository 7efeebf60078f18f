// The locksmithctl command's entry point (../shared/CLI.md).

import { main, notImplemented, type Command } from './run.ts';

export const run: Command = async () => notImplemented('locksmithctl');

main('locksmithctl', run);
