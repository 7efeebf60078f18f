// update-engine slots show|prioritize|mark-good (../shared/CLI.md), plus prepare-for-try, disable
// and repair: look at and change the A/B slots' GPT boot attributes. The disk is unchanged on error.

import { UpdateEngineError } from '../../errors.ts';
import { parseCommandLine, println, usageError, type Command, type CommandContext } from '../run.ts';
import { disableSlot, listUsrSlots, markGood, prepareForTry, prioritize, repairGpt, type DiskSlots, type SlotOptions } from '../../slots/index.ts';

const HELP = `Usage: update-engine slots show --disk DISK [--json]
       update-engine slots prioritize --disk DISK --partition N
       update-engine slots mark-good --disk DISK --partition N
       update-engine slots prepare-for-try --disk DISK --partition N
       update-engine slots disable --disk DISK --partition N
       update-engine slots repair --disk DISK

Look at or change the A/B slots: the partitions of the /usr type (or labelled USR-A/USR-B).

  show             list the slots with priority, tries and successful
  prioritize       give partition N the top priority (cgpt semantics; the others keep their order)
  mark-good        successful=1, tries=0, then prioritize (after a healthy boot)
  prepare-for-try  successful=0, tries=1, then prioritize (after installing into N)
  disable          priority=0, tries=0, successful=0 (N is never booted)
  repair           rewrite a damaged or stale GPT copy from the valid one

Options:
  --disk DISK          the disk or image file holding the slots
  --partition N        the slot's partition number
  --json               show: print [{"partition","label","priority","tries","successful","uuid","firstLba","lastLba"}]
  --sector-size BYTES  image files only: 512 or 4096 (default: found from the image)
  -h, --help           show this help

Every change reads the GPT, checks it, and writes both copies in crash-safe order.
Exit status: 0, 2 for a usage error, 5 when the disk, its GPT or the slot is not usable.`;

const EDITS: Record<string, (disk: string, partition: number, options: SlotOptions) => Promise<DiskSlots>> = {
  prioritize,
  'mark-good': markGood,
  'prepare-for-try': prepareForTry,
  disable: disableSlot,
};

function parsePositiveInt(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text)) throw usageError(`--${name} must be a positive whole number, got "${text}"`);
  return Number(text);
}

/** The slots as a table, one line per slot. */
export function formatSlots(slots: DiskSlots): string {
  const rows = [
    ['PART', 'LABEL', 'PRIORITY', 'TRIES', 'SUCCESSFUL', 'FIRST_LBA', 'LAST_LBA', 'UUID'],
    ...slots.usrSlots.map((s) => [
      String(s.partition),
      s.label,
      String(s.priority),
      String(s.tries),
      s.successful ? 'yes' : 'no',
      String(s.firstLba),
      String(s.lastLba),
      s.uuid,
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')).join('\n');
}

/** The --json shape of ../shared/CLI.md. */
export function slotsJson(slots: DiskSlots): string {
  return JSON.stringify(
    slots.usrSlots.map((s) => ({
      partition: s.partition,
      label: s.label,
      priority: s.priority,
      tries: s.tries,
      successful: s.successful,
      uuid: s.uuid,
      firstLba: s.firstLba,
      lastLba: s.lastLba,
    })),
  );
}

function warn(ctx: CommandContext, problems: string[]): void {
  for (const p of problems) println(ctx.stderr, `warning: ${p}; the next change repairs it (or run 'update-engine slots repair')`);
}

export const run: Command = async (argv, ctx) => {
  const [action, ...rest] = argv;
  if (action === undefined || action === '--help' || action === '-h' || action === 'help') {
    println(action === undefined ? ctx.stderr : ctx.stdout, HELP);
    return action === undefined ? 2 : 0;
  }
  const { values } = parseCommandLine(rest, {
    disk: { type: 'string' },
    partition: { type: 'string' },
    json: { type: 'boolean' },
    'sector-size': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    println(ctx.stdout, HELP);
    return 0;
  }
  const known = action === 'show' || action === 'repair' || action in EDITS;
  if (!known) throw usageError(`Unknown slots command "${action}" (show, prioritize, mark-good, prepare-for-try, disable, repair)`);
  if (values.disk === undefined || values.disk === '') throw usageError(`slots ${action} needs --disk DISK`);
  const options: SlotOptions = { sectorSizeBytes: parsePositiveInt('sector-size', values['sector-size']) };
  const partition = parsePositiveInt('partition', values.partition);
  if (values.json && action !== 'show') throw usageError(`--json is for slots show only`);

  if (action === 'show') {
    if (partition !== undefined) throw usageError('slots show takes no --partition');
    const slots = await listUsrSlots(values.disk, options);
    println(ctx.stdout, values.json ? slotsJson(slots) : formatSlots(slots));
    warn(ctx, slots.problems);
    return 0;
  }
  if (action === 'repair') {
    const problems = await repairGpt(values.disk, options);
    println(
      ctx.stdout,
      problems.length === 0 ? `The GPT on "${values.disk}" is intact; nothing to repair` : `Repaired "${values.disk}": ${problems.join('; ')}`,
    );
    return 0;
  }
  if (partition === undefined) throw usageError(`slots ${action} needs --partition N`);
  const edit = EDITS[action];
  if (!edit) throw new UpdateEngineError('ERR_INTERNAL', `No handler for slots ${action}`);
  println(ctx.stdout, formatSlots(await edit(values.disk, partition, options)));
  return 0;
};
