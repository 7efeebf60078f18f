// The update path of ARCHITECTURE.md as a picture: the action chain, its data, the commit point.

import { PALETTE, arrow, box, svgDocument, text, type Box } from './svg.ts';

export function renderUpdatePath(): string {
  const W = 780;
  const x = 60;
  const w = 330;
  const h = 62;
  const gap = 30;
  const steps: Array<Omit<Box, 'x' | 'y' | 'w' | 'h'>> = [
    { id: 'check', title: 'check', lines: ['POST Omaha XML to SERVER', 'Settings -> UpdateOffer | NoUpdate'] },
    { id: 'plan', title: 'plan', lines: ['passive slot, URLs, size, sha256, resume point', 'UpdateOffer -> InstallPlan'] },
    {
      id: 'apply',
      title: 'apply (one stream)',
      lines: ['HTTP Range -> tar -> verify signature, each block', '-> throttled write -> read back -> checkpoint'],
      fill: PALETTE.accent,
    },
    {
      id: 'finalize',
      title: 'finalize: the commit point',
      lines: ['offer size + sha256, image hash', 'GPT: tries=1, successful=0, top priority'],
      fill: PALETTE.warn,
    },
    { id: 'reboot', title: 'reboot strategy', lines: ['window -> etcd lock (locksmith semaphore)', '-> REBOOT_COMMAND'] },
    {
      id: 'postboot',
      title: 'after the reboot, on the new slot',
      lines: ['health check -> mark good (successful=1)', '-> release the lock -> Omaha event 3/2'],
      fill: PALETTE.good,
    },
  ];
  const boxes: Box[] = steps.map((s, i) => ({ ...s, x, y: 70 + i * (h + gap), w, h }));
  const body: string[] = [text(W / 2, 36, 'The path of one update', { size: 18, weight: 'bold' })];
  for (const b of boxes) body.push(box(b));
  for (let i = 0; i + 1 < boxes.length; i++) {
    const a = boxes[i] as Box;
    const b = boxes[i + 1] as Box;
    body.push(
      arrow([
        [a.x + a.w / 2, a.y + a.h],
        [b.x + b.w / 2, b.y],
      ]),
    );
  }
  const notes: Array<[string, string[]]> = [
    ['check', ['events to the server between steps:', '13/1 download started, 14/1 downloaded,', '800/1 installed, 3/0 error (with its code)']],
    ['apply', ['nothing is written before the manifest', 'signature verifies; no block before its', 'hash does; memory bounded by a few blocks']],
    ['finalize', ['a crash at any moment leaves a disk that', 'boots the old or the new slot, never neither']],
    ['postboot', ['health check never passes: no mark-good,', 'reboot; the bootloader falls back (3/0, 44)']],
  ];
  for (const [id, lines] of notes) {
    const b = boxes.find((bb) => bb.id === id) as Box;
    const nx = x + w + 40;
    body.push(
      arrow(
        [
          [nx, b.y + b.h / 2],
          [b.x + b.w + 6, b.y + b.h / 2],
        ],
        undefined,
        { dashed: true },
      ),
    );
    lines.forEach((l, i) => {
      body.push(text(nx + 10, b.y + b.h / 2 - 12 + i * 16, l, { size: 12, anchor: 'start', fill: PALETTE.muted }));
    });
  }
  body.push(
    text(x, 70 + boxes.length * (h + gap) + 4, 'Any failure: event 3/0 with the mapped code, passive slot at priority 0, running slot untouched.', {
      size: 12,
      anchor: 'start',
      fill: PALETTE.muted,
    }),
  );
  return svgDocument(W, 70 + boxes.length * (h + gap) + 24, body, 'The path of one update');
}
