// Splits a child's output into lines for the log with bounded memory: lines longer than MAX_LINE
// bytes are cut, and after MAX_LINES lines the rest is only counted (a chatty /postinst cannot
// flood the journal or the daemon's memory; its output is always drained).

export const MAX_LINE_BYTES = 4096;
export const MAX_LINES = 1000;

export interface LineStats {
  bytes: number;
  lines: number;
  linesLogged: number;
}

export class LineSplitter {
  private partial: Buffer[] = [];
  private partialBytes = 0;
  private cut = false;
  readonly stats: LineStats = { bytes: 0, lines: 0, linesLogged: 0 };

  constructor(
    private readonly emit: (line: string) => void,
    private readonly maxLines = MAX_LINES,
  ) {}

  push(data: Buffer): void {
    this.stats.bytes += data.length;
    let start = 0;
    for (;;) {
      const nl = data.indexOf(0x0a, start);
      if (nl < 0) {
        this.keep(data.subarray(start));
        return;
      }
      this.keep(data.subarray(start, nl));
      this.flushLine();
      start = nl + 1;
    }
  }

  /** Emits what is left after the stream ended without a newline. */
  end(): void {
    if (this.partialBytes > 0 || this.cut) this.flushLine();
  }

  private keep(piece: Buffer): void {
    const room = MAX_LINE_BYTES - this.partialBytes;
    if (piece.length > room) this.cut = true;
    const part = piece.subarray(0, Math.max(0, room));
    if (part.length > 0) {
      this.partial.push(Buffer.from(part));
      this.partialBytes += part.length;
    }
  }

  private flushLine(): void {
    this.stats.lines += 1;
    if (this.stats.linesLogged < this.maxLines) {
      const text = Buffer.concat(this.partial).toString('utf8').replace(/\r$/, '');
      this.emit(this.cut ? `${text} [cut at ${MAX_LINE_BYTES} bytes]` : text);
      this.stats.linesLogged += 1;
    }
    this.partial = [];
    this.partialBytes = 0;
    this.cut = false;
  }
}
