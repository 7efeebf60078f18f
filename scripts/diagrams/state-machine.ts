// The daemon's state machine, drawn from the one table of allowed transitions (src/daemon/status.ts):
// forward steps down the middle, the way back on the left, errors to the right.

import { ALLOWED_TRANSITIONS, UPDATE_STATUSES, type UpdateStatus } from '../../src/daemon/status.ts';
import { PALETTE, arrow, box, svgDocument, text, type Box } from './svg.ts';

const ERROR: UpdateStatus = 'UPDATE_STATUS_REPORTING_ERROR_EVENT';
const short = (s: UpdateStatus) => s.replace('UPDATE_STATUS_', '');

export function renderStateMachine(): string {
  const main = UPDATE_STATUSES.filter((s) => s !== ERROR);
  const x = 250;
  const w = 300;
  const h = 40;
  const gap = 34;
  const top = 70;
  const boxes = new Map<UpdateStatus, Box>();
  main.forEach((s, i) => {
    boxes.set(s, {
      id: s,
      x,
      y: top + i * (h + gap),
      w,
      h,
      title: short(s),
      fill: s === 'UPDATE_STATUS_UPDATED_NEED_REBOOT' ? PALETTE.good : s === 'UPDATE_STATUS_IDLE' ? PALETTE.accent : PALETTE.box,
    });
  });
  const errBox: Box = {
    id: ERROR,
    x: x + w + 110,
    y: top + 2.5 * (h + gap),
    w: 250,
    h: 56,
    title: short(ERROR),
    lines: ['sends 3/0 with the error code'],
    fill: PALETTE.bad,
  };
  boxes.set(ERROR, errBox);
  const body: string[] = [text(470, 34, 'Update status: allowed transitions (from src/daemon/status.ts)', { size: 17, weight: 'bold' })];
  for (const b of boxes.values()) body.push(box(b));
  const index = (s: UpdateStatus) => main.indexOf(s);
  let backLane = 0;
  for (const from of UPDATE_STATUSES) {
    for (const to of ALLOWED_TRANSITIONS[from]) {
      const a = boxes.get(from) as Box;
      const b = boxes.get(to) as Box;
      if (to === ERROR) {
        const y = a.y + a.h / 2;
        body.push(
          arrow(
            [
              [a.x + a.w, y],
              [errBox.x - 30, y],
              [errBox.x - 30, errBox.y + errBox.h / 2],
              [errBox.x, errBox.y + errBox.h / 2],
            ],
            undefined,
            { dashed: true, color: '#c0392b' },
          ),
        );
      } else if (from === ERROR) {
        const y = b.y + b.h / 2 + 6;
        body.push(
          arrow([
            [errBox.x + errBox.w / 2, errBox.y + (index(to) < 3 ? 0 : errBox.h)],
            [errBox.x + errBox.w / 2, y],
            [b.x + b.w + 4, y],
          ]),
        );
      } else if (index(to) === index(from) + 1) {
        body.push(
          arrow([
            [a.x + a.w / 2, a.y + a.h],
            [b.x + b.w / 2, b.y],
          ]),
        );
      } else {
        backLane += 1;
        const lx = x - 24 * backLane;
        const down = index(to) > index(from);
        const label = labelFor(from, to);
        body.push(
          arrow([
            [a.x, a.y + a.h / 2 + (down ? 6 : -6)],
            [lx, a.y + a.h / 2 + (down ? 6 : -6)],
            [lx, b.y + b.h / 2 + (down ? -6 : 6)],
            [b.x, b.y + b.h / 2 + (down ? -6 : 6)],
          ]),
        );
        const my = (a.y + b.y) / 2 + a.h / 2;
        body.push(`<g transform="rotate(-90 ${lx - 5} ${my})">${text(lx - 5, my, label, { size: 11, fill: PALETTE.muted })}</g>`);
      }
    }
  }
  const height = top + main.length * (h + gap) + 10;
  body.push(
    text(x - 80, height - 6, 'Dashed: any step may fail; the error is reported and the passive slot leaves the boot order.', {
      size: 12,
      anchor: 'start',
      fill: PALETTE.muted,
    }),
  );
  body.push(
    text(x - 80, height + 12, 'After the report: back to IDLE, or to UPDATED_NEED_REBOOT when a flip is still pending.', {
      size: 12,
      anchor: 'start',
      fill: PALETTE.muted,
    }),
  );
  return svgDocument(940, height + 26, body, 'Update status transitions');
}

function labelFor(from: UpdateStatus, to: UpdateStatus): string {
  if (from === 'UPDATE_STATUS_CHECKING_FOR_UPDATE' && to === 'UPDATE_STATUS_IDLE') return 'no update';
  if (from === 'UPDATE_STATUS_CHECKING_FOR_UPDATE' && to === 'UPDATE_STATUS_UPDATED_NEED_REBOOT') return 'nothing newer';
  if (from === 'UPDATE_STATUS_UPDATED_NEED_REBOOT' && to === 'UPDATE_STATUS_CHECKING_FOR_UPDATE') return 'keeps checking';
  if (from === 'UPDATE_STATUS_UPDATED_NEED_REBOOT' && to === 'UPDATE_STATUS_IDLE') return '-reset_status';
  return '';
}
