/**
 * A progress bar for long transfers on the terminal: bytes done of the total, rate and time left, redrawn in place
 * on a TTY (at most 10 times a second) and printed as occasional lines otherwise (CI logs).
 */

/** Formats a byte count with binary units. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--:--';
  const s = Math.max(0, Math.round(seconds));
  return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

/** A progress reporter for one transfer. */
export class ProgressBar {
  readonly #label: string;
  readonly #total: number;
  readonly #write: (text: string) => void;
  readonly #tty: boolean;
  readonly #start = performance.now();
  #done = 0;
  #lastDraw = 0;
  #lastLinePercent = -1;

  constructor(label: string, total: number, options: { write?: (text: string) => void; tty?: boolean } = {}) {
    this.#label = label;
    this.#total = total;
    this.#write = options.write ?? ((text) => process.stderr.write(text));
    this.#tty = options.tty ?? process.stderr.isTTY === true;
  }

  /** Bytes per second so far. */
  get rate(): number {
    const seconds = (performance.now() - this.#start) / 1000;
    return seconds > 0 ? this.#done / seconds : 0;
  }

  /** Add `bytes` to the done count and redraw when due. */
  advance(bytes: number): void {
    this.#done += bytes;
    const now = performance.now();
    if (this.#tty ? now - this.#lastDraw >= 100 : Math.floor((this.#done / this.#total) * 10) > this.#lastLinePercent) this.#draw(now);
  }

  /** Draw the final state and end the line. */
  finish(): void {
    this.#draw(performance.now(), true);
  }

  /** The current line, without control characters. */
  line(): string {
    const fraction = this.#total > 0 ? Math.min(1, this.#done / this.#total) : 1;
    const width = 24;
    const filled = Math.round(fraction * width);
    const rate = this.rate;
    const eta = rate > 0 ? (this.#total - this.#done) / rate : Number.POSITIVE_INFINITY;
    return `${this.#label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}% ` +
      `${formatBytes(this.#done)}/${formatBytes(this.#total)} ${formatBytes(rate)}/s ETA ${formatSeconds(eta)}`;
  }

  #draw(now: number, final = false): void {
    this.#lastDraw = now;
    this.#lastLinePercent = Math.floor((this.#done / Math.max(1, this.#total)) * 10);
    if (this.#tty) this.#write(`\r${this.line()}${final ? '\n' : ''}`);
    else this.#write(`${this.line()}\n`);
  }
}
