// update-engine boot-sim (../shared/CLI.md): do what GRUB's gptprio.next does at boot (choose the
// slot, count down its tries in both GPT copies) and print the chosen partition.

import { parseCommandLine, println, usageError, type Command } from '../run.ts';
import { bootSimulate } from '../../slots/index.ts';

const HELP = `Usage: update-engine boot-sim --disk DISK [--json]

Do what the bootloader does (GRUB gptprio.next): among the /usr-type partitions, choose the one
with the highest priority that has tries left or is marked successful (ties: the lowest number);
if it has tries left, count one down and write both GPT copies. Prints the chosen partition number.

Options:
  --disk DISK          the disk or image file holding the slots
  --json               print {"partition":4,"label":"USR-B","tries":0} (tries left after this boot)
  --sector-size BYTES  image files only: 512 or 4096 (default: found from the image)
  -h, --help           show this help

Exit status: 0, 2 for a usage error, 5 when no slot is bootable or the GPT is not usable.`;

export const run: Command = async (argv, ctx) => {
  const { values } = parseCommandLine(argv, {
    disk: { type: 'string' },
    json: { type: 'boolean' },
    'sector-size': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    println(ctx.stdout, HELP);
    return 0;
  }
  if (values.disk === undefined || values.disk === '') throw usageError('boot-sim needs --disk DISK');
  const sectorSize = values['sector-size'];
  if (sectorSize !== undefined && !/^\d+$/.test(sectorSize)) throw usageError(`--sector-size must be 512 or 4096, got "${sectorSize}"`);
  const choice = await bootSimulate(values.disk, { sectorSizeBytes: sectorSize === undefined ? undefined : Number(sectorSize) });
  println(ctx.stdout, values.json ? JSON.stringify({ partition: choice.partition, label: choice.label, tries: choice.tries }) : String(choice.partition));
  return 0;
};
