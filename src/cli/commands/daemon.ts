// update-engine daemon [--config FILE]... [--once]: the update daemon (../shared/CLI.md).

import { describeSource } from '../../config/load.ts';
import { SETTINGS_OPTIONS, loadSettingsFromOptions } from '../settings-options.ts';
import { createLogger } from '../../platform/logger.ts';
import { runDaemon } from '../../daemon/main.ts';
import { parseCommandLine, println, type Command } from '../run.ts';

const HELP = `Usage: update-engine daemon [--config FILE]... [--once]

Run the update daemon: check the Omaha server on a schedule, apply updates to the passive slot,
flip the GPT, and reboot as REBOOT_STRATEGY says. After a reboot onto a new slot, run the health
check, mark the slot good and release the reboot lock.

Options:
  --config FILE   an extra settings file (repeatable; later files win)
  --once          one full cycle, then exit: the post-boot cycle when booted on a slot not yet
                  marked good, then an update check (and the update, and the reboot hand-over)
  --sysroot DIR   read the system settings files under DIR instead of /
  -h, --help      show this help

Exit status: 0 when there was no update or the cycle succeeded; otherwise the error's exit code
(see README, "Exit codes"). Logs are JSON lines on stderr (readable on a terminal).`;

export const run: Command = async (argv, ctx) => {
  const { values } = parseCommandLine(argv, {
    ...SETTINGS_OPTIONS,
    once: { type: 'boolean' },
  });
  if (values.help) {
    println(ctx.stdout, HELP);
    return 0;
  }
  const loaded = await loadSettingsFromOptions(values, ctx.env);
  const logger = createLogger({ level: loaded.settings.logLevel, name: 'update-engine' });
  for (const w of loaded.warnings) logger.warn(w);
  for (const i of loaded.ignored) logger.info({ key: i.key, value: i.value, source: describeSource(i.source) }, `Vendor value ignored: ${i.why}`);
  return runDaemon(loaded.settings, { once: values.once === true, logger, signal: ctx.signal });
};
