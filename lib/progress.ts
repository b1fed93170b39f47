/**
 * A small progress bar on stderr: redrawn in place on a TTY, a plain line every few seconds otherwise
 * (so logs of background jobs still show progress without a flood of lines).
 */
export interface ProgressOptions {
  total: number;
  label: string;
  stream?: NodeJS.WriteStream;
  /** Seconds between plain lines when the stream is not a TTY. */
  logEverySeconds?: number;
}

export class ProgressBar {
  private done = 0;
  private readonly start = Date.now();
  private lastDraw = 0;
  private suffix = "";
  private readonly stream: NodeJS.WriteStream;
  private readonly tty: boolean;

  constructor(private readonly options: ProgressOptions) {
    this.stream = options.stream ?? process.stderr;
    this.tty = Boolean(this.stream.isTTY);
  }

  /** Advances by `n` and sets the text after the bar (e.g. the running loss). */
  tick(n = 1, suffix?: string): void {
    this.done += n;
    if (suffix !== undefined) this.suffix = suffix;
    const now = Date.now();
    const interval = this.tty ? 100 : (this.options.logEverySeconds ?? 10) * 1000;
    if (now - this.lastDraw >= interval || this.done >= this.options.total) this.draw(now);
  }

  private draw(now: number): void {
    this.lastDraw = now;
    const { total, label } = this.options;
    const elapsed = (now - this.start) / 1000;
    const rate = elapsed > 0 ? this.done / elapsed : 0;
    const pct = total > 0 ? Math.min(1, this.done / total) : 1;
    const eta = rate > 0 ? (total - this.done) / rate : 0;
    const stats = `${this.done}/${total} [${elapsed.toFixed(1)}s<${eta.toFixed(1)}s, ${rate.toFixed(2)}it/s]${this.suffix ? ` ${this.suffix}` : ""}`;
    if (this.tty) {
      const width = 25;
      const filled = Math.round(pct * width);
      this.stream.write(`\r${label}: ${(pct * 100).toFixed(0).padStart(3)}%|${"█".repeat(filled)}${" ".repeat(width - filled)}| ${stats}\x1b[K`);
    } else {
      this.stream.write(`${label}: ${(pct * 100).toFixed(0)}% ${stats}\n`);
    }
  }

  /** Ends the bar's line. */
  stop(): void {
    if (this.tty) this.stream.write("\n");
  }
}
