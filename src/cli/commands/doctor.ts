// update-engine doctor [--config FILE]...: check the set-up; one line per check with OK or the fix.

import { SETTINGS_OPTIONS, loadSettingsFromOptions } from '../settings-options.ts';
import { formatDoctorReport } from '../../doctor/doctor-result.ts';
import { runDoctor } from '../../doctor/run-doctor.ts';
import { parseCommandLine, println, type Command } from '../run.ts';

const HELP = `Usage: update-engine doctor [--config FILE]... [--sysroot DIR] [--json]

Check the set-up and say what would stop an update: the settings, the trusted keys, the disk and
the slots (which is booted, which is passive, their attributes), the state and run directories,
the reboot and health-check commands, the Omaha server (it must answer an update check), and for
the lock strategies etcd (reachable, semaphore readable, no etcd v2 semaphore beside it).

Options:
  --config FILE   an extra settings file (repeatable; later files win)
  --sysroot DIR   read the system settings files under DIR instead of /
  --json          print the results as JSON
  -h, --help      show this help

Exit status: 0 when nothing would stop an update (warnings allowed), 1 otherwise, 3 for invalid settings.`;

export const run: Command = async (argv, ctx) => {
  const { values } = parseCommandLine(argv, {
    ...SETTINGS_OPTIONS,
    json: { type: 'boolean' },
  });
  if (values.help) {
    println(ctx.stdout, HELP);
    return 0;
  }
  const loaded = await loadSettingsFromOptions(values, ctx.env);
  const results = await runDoctor(loaded);
  if (values.json) println(ctx.stdout, JSON.stringify(results, null, 2));
  else for (const line of formatDoctorReport(results)) println(ctx.stdout, line);
  return results.some((r) => r.status === 'fail') ? 1 : 0;
};
