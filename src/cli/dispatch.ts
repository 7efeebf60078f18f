// The update-engine subcommand table and dispatcher (one module per subcommand in src/cli/commands).

import { usageError, println, type Command, type CommandContext } from './run.ts';
import { VERSION } from '../version.ts';

interface Subcommand {
  summary: string;
  load: () => Promise<{ run: Command }>;
}

const SUBCOMMANDS: Record<string, Subcommand> = {
  daemon: { summary: 'Run the update daemon (--once: one cycle, then exit)', load: () => import('./commands/daemon.ts') },
  config: { summary: 'Print the effective settings and where each value came from', load: () => import('./commands/config.ts') },
  payload: { summary: 'Create, inspect, verify or sign update payloads', load: () => import('./commands/payload.ts') },
  serve: { summary: 'Run a small Omaha server for development, tests and the demo', load: () => import('./commands/serve.ts') },
  slots: { summary: 'Show or change the A/B slots in the GPT', load: () => import('./commands/slots.ts') },
  'boot-sim': { summary: 'Do what the bootloader does: choose a slot, count its try', load: () => import('./commands/boot-sim.ts') },
  boot: { summary: 'Write the grubenv or bls boot configuration onto the ESP (install-config)', load: () => import('./commands/boot.ts') },
  doctor: { summary: 'Check the set-up and say what would stop an update', load: () => import('./commands/doctor.ts') },
  demo: { summary: 'A full update cycle on a throwaway disk image (no root needed)', load: () => import('./commands/demo.ts') },
};

export function usage(): string {
  const width = Math.max(...Object.keys(SUBCOMMANDS).map((k) => k.length));
  const lines = [
    'Usage: update-engine COMMAND [OPTIONS]',
    '',
    'Atomic A/B partition updates for Linux servers.',
    '',
    'Commands:',
    ...Object.entries(SUBCOMMANDS).map(([name, sub]) => `  ${name.padEnd(width)}  ${sub.summary}`),
    '',
    "Run 'update-engine COMMAND --help' for a command's options.",
  ];
  return lines.join('\n');
}

export const run: Command = async (argv: string[], ctx: CommandContext) => {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    println(name === undefined ? ctx.stderr : ctx.stdout, usage());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version') {
    println(ctx.stdout, `update-engine ${VERSION}`);
    return 0;
  }
  const sub = SUBCOMMANDS[name];
  if (!sub) throw usageError(`Unknown command "${name}"`);
  const mod = await sub.load();
  return mod.run(rest, ctx);
};
