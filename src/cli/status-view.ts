// How a status stream is shown to a person: a progress bar on a TTY (cli-progress), plain lines
// otherwise (one per status change and per 10 % of progress). Used by update_engine_client and the demo.

import cliProgress from 'cli-progress';
import type { StatusSnapshot } from '../daemon/status.ts';
import { println } from './run.ts';

/** How -update and -watch_for_updates show the status as it changes. */
export interface StatusView {
  show(s: StatusSnapshot): void;
  stop(): void;
}

/** One line per status change and per 10 % of progress, e.g. "UPDATE_STATUS_DOWNLOADING 25.0% - writing block 10 of 40". */
export function statusLine(s: StatusSnapshot): string {
  const parts: string[] = [s.status];
  if (s.progress > 0) parts.push(`${(s.progress * 100).toFixed(1)}%`);
  if (s.status === 'UPDATE_STATUS_UPDATE_AVAILABLE') parts.push(`${s.newVersion} (${s.newSizeBytes} bytes)`);
  if (s.currentOperation !== '') parts.push(`- ${s.currentOperation}`);
  return parts.join(' ');
}

class LineView implements StatusView {
  #status = '';
  #tenth = 0;
  constructor(readonly stream: NodeJS.WritableStream) {}
  show(s: StatusSnapshot): void {
    const tenth = Math.floor(s.progress * 10);
    if (s.status === this.#status && tenth <= this.#tenth) return;
    this.#status = s.status;
    this.#tenth = tenth;
    println(this.stream, statusLine(s));
  }
  stop(): void {}
}

class BarView implements StatusView {
  readonly #bar: cliProgress.SingleBar;
  #started = false;
  constructor(stream: NodeJS.WritableStream) {
    this.#bar = new cliProgress.SingleBar(
      { stream, format: '{status} [{bar}] {percentage}% {detail}', hideCursor: true, barsize: 30, clearOnComplete: false },
      cliProgress.Presets.legacy,
    );
  }
  #status = '';
  show(s: StatusSnapshot): void {
    const payload = { status: s.status, detail: s.currentOperation };
    const value = Math.round(s.progress * 1000) / 10;
    if (this.#started) this.#bar.update(value, payload);
    else this.#bar.start(100, value, payload);
    // Progress redraws are throttled by cli-progress; a status change is always drawn.
    if (this.#started && s.status !== this.#status) this.#bar.render();
    this.#started = true;
    this.#status = s.status;
  }
  stop(): void {
    if (this.#started) this.#bar.stop();
    this.#started = false;
  }
}

export function createStatusView(stream: NodeJS.WritableStream): StatusView {
  return (stream as NodeJS.WriteStream).isTTY === true ? new BarView(stream) : new LineView(stream);
}
