// Only the post-install rows of the crash bench (root): node bin/run-ts.js bench/crash/install.ts [--runs 3]
// Prints the rows and the landing of each kill point; exit status 1 when a run lost data or needed help.

import { parseArgs } from 'node:util';
import { describeInstallKill } from '../../test/helpers/install-crash.ts';
import { runInstallKills, installRows } from './install-kill-runs.ts';
import { faultTable } from './report.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' } } });
if (process.getuid?.() !== 0) {
  process.stderr.write('bench/crash/install.ts needs root (loop devices, mount namespaces, FUSE)\n');
  process.exit(2);
}
const started = performance.now();
const records = await runInstallKills(Number(values.runs), (l) => process.stdout.write(`${l}\n`));
const rows = installRows(records);
process.stdout.write(`${faultTable(rows)}\n\n`);
for (const r of records) {
  process.stdout.write(
    `${describeInstallKill(r.point)}: killed=${r.killed} booted=${r.bootedPartition} vmlinuz-a intact=${r.kernelAIntact} ESP clean=${r.espClean}${r.dirtyBit ? ' (only the dirty bit or a stale free-cluster hint)' : ''} restart finished=${r.converged} vmlinuz-b exact=${r.kernelBExact} then booted=${r.bootedAfter}\n`,
  );
}
process.stdout.write(`${Math.round((performance.now() - started) / 1000)} s\n`);
process.exitCode = rows.some((r) => r.dataLost > 0 || r.manualHelp > 0) ? 1 : 0;
