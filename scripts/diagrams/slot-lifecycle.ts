// The slot attributes through an update and through a rollback, computed with the project's own
// prioritize (cgpt semantics) and boot choice (GRUB gptprio.next) on in-memory GPT entries.

import { decodeBootAttributes, encodeBootAttributes, type BootAttributes } from '../../src/slots/attributes.ts';
import { chooseBootEntry } from '../../src/slots/boot-simulator.ts';
import type { GptEntry } from '../../src/slots/gpt-entry.ts';
import { prioritizePartitions } from '../../src/slots/slot-priority.ts';
import { USR_PARTITION_TYPE_GUID } from '../../src/slots/slot-model.ts';
import { PALETTE, box, svgDocument, text } from './svg.ts';

type Table = GptEntry[];

function fresh(): Table {
  const entry = (partition: number, label: string, boot: BootAttributes): GptEntry => ({
    partition,
    label,
    typeGuid: USR_PARTITION_TYPE_GUID,
    uuid: '',
    firstLba: 0,
    lastLba: 0,
    attributes: encodeBootAttributes(0n, boot),
  });
  return [entry(3, 'USR-A', { priority: 1, tries: 0, successful: true }), entry(4, 'USR-B', { priority: 0, tries: 0, successful: false })];
}

function edit(t: Table, partition: number, change: Partial<BootAttributes>): Table {
  return t.map((e) =>
    e.partition === partition ? { ...e, attributes: encodeBootAttributes(e.attributes, { ...decodeBootAttributes(e.attributes), ...change }) } : e,
  );
}

function prioritize(t: Table, partition: number): Table {
  const next = prioritizePartitions(new Map(t.map((e) => [e.partition, decodeBootAttributes(e.attributes).priority])), partition);
  return t.map((e) => edit([e], e.partition, { priority: next.get(e.partition) ?? 0 })[0] as GptEntry);
}

function boot(t: Table): { table: Table; booted: number } {
  const chosen = chooseBootEntry(t) as GptEntry;
  const tries = decodeBootAttributes(chosen.attributes).tries;
  return { table: tries > 0 ? edit(t, chosen.partition, { tries: tries - 1 }) : t, booted: chosen.partition };
}

interface Step {
  title: string;
  table: Table;
  booted?: number;
}

function steps(): { update: Step[]; rollback: Step[] } {
  const t0 = fresh();
  const t1 = prioritize(edit(t0, 4, { successful: false, tries: 1 }), 4);
  const b1 = boot(t1);
  const t3 = prioritize(edit(b1.table, 4, { successful: true, tries: 0 }), 4);
  const r2 = boot(b1.table);
  const r3 = edit(r2.table, 4, { priority: 0, tries: 0, successful: false });
  return {
    update: [
      { title: 'fresh image', table: t0, booted: 3 },
      { title: 'update written to B, flipped', table: t1, booted: 3 },
      { title: 'reboot: GRUB tries B', table: b1.table, booted: b1.booted },
      { title: 'healthy: B marked good', table: t3, booted: 4 },
    ],
    rollback: [
      { title: 'reboot: GRUB tries B', table: b1.table, booted: b1.booted },
      { title: 'B never marked good; reboot', table: r2.table, booted: r2.booted },
      { title: 'daemon: B out, report 3/0 (44)', table: r3, booted: 3 },
    ],
  };
}

function cell(x: number, y: number, e: GptEntry, booted: boolean): string[] {
  const a = decodeBootAttributes(e.attributes);
  const fill = booted ? PALETTE.good : a.priority === 0 ? PALETTE.box : a.successful ? PALETTE.accent : PALETTE.warn;
  return [
    box({
      id: '',
      x,
      y,
      w: 200,
      h: 48,
      title: `${e.label}${booted ? '  (booted)' : ''}`,
      lines: [`priority ${a.priority}  tries ${a.tries}  successful ${a.successful ? 1 : 0}`],
      fill,
    }),
  ];
}

export function renderSlotLifecycle(): string {
  const { update, rollback } = steps();
  const body: string[] = [text(470, 32, 'GPT slot attributes through an update, and through a rollback', { size: 17, weight: 'bold' })];
  const row = (list: Step[], y: number, heading: string) => {
    body.push(text(30, y - 12, heading, { size: 14, weight: 'bold', anchor: 'start' }));
    list.forEach((s, i) => {
      const x = 20 + i * 232;
      body.push(text(x + 100, y + 8, s.title, { size: 12, fill: PALETTE.muted }));
      s.table.forEach((e, j) => {
        body.push(...cell(x, y + 20 + j * 58, e, s.booted === e.partition));
      });
      if (i + 1 < list.length)
        body.push(`<path d="M${x + 203},${y + 73} L${x + 229},${y + 73}" stroke="${PALETTE.line}" stroke-width="1.5" marker-end="url(#arrow)"/>`);
    });
  };
  row(update, 80, 'Update A -> B');
  row(rollback, 300, 'Rollback: B is tried once, never marked good');
  body.push(
    text(30, 470, 'GRUB boots the highest priority slot with tries > 0 or successful = 1, and counts a try down before booting it.', {
      size: 12,
      anchor: 'start',
      fill: PALETTE.muted,
    }),
  );
  return svgDocument(950, 490, body, 'GPT slot attributes through an update and a rollback');
}
