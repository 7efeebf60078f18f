// The update_engine_client command's entry point (../shared/CLI.md).

import { main, notImplemented, type Command } from './run.ts';

export const run: Command = async () => notImplemented('update_engine_client');

main('update_engine_client', run);
