/**
 * The progress line a long command draws on stderr: `classified 48/1000  12.5 images/s  ETA
 * 1m16s`, redrawn in place and cleared before anything else is printed, so results on stdout
 * never share a line with it. Only on a terminal: piped or redirected, stderr gets no progress
 * at all.
 *
 * @example
 * ```ts
 * import { formatProgress } from "./progress.ts";
 * console.log(formatProgress("classified", 48, 1000, 3840)); // classified 48/1000  12.5 images/s  ETA 1m16s
 * ```
 *
 * @module
 */

/** Erases the current terminal line and returns to its start. */
const CLEAR_LINE = "\r\x1b[2K";

/**
 * A duration in seconds as a terminal shows it: `45s`, `1m16s`, `2h05m`.
 *
 * @example
 * ```ts
 * console.log(formatDuration(76), formatDuration(7500)); // 1m16s 2h05m
 * ```
 */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/**
 * The text of a progress line: what is done of the total, the rate so far and the time left at
 * that rate (neither before anything is done).
 *
 * @example
 * ```ts
 * console.log(formatProgress("classified", 0, 1000, 500)); // classified 0/1000
 * console.log(formatProgress("classified", 1000, 1000, 8000)); // classified 1000/1000  125 images/s  ETA 0s
 * ```
 */
export function formatProgress(
  label: string,
  done: number,
  total: number,
  elapsedMs: number,
): string {
  const text = `${label} ${done}/${total}`;
  if (done === 0 || elapsedMs <= 0) return text;
  const rate = done / (elapsedMs / 1000);
  const shown = rate >= 100 ? rate.toFixed(0) : rate.toPrecision(3);
  return `${text}  ${shown} images/s  ETA ${formatDuration((total - done) / rate)}`;
}

/**
 * Options of {@link ProgressLine}.
 *
 * @example
 * ```ts
 * import type { ProgressOptions } from "./progress.ts";
 * const options: ProgressOptions = { enabled: false };
 * console.log(options.enabled); // false
 * ```
 */
export interface ProgressOptions {
  /** Whether to draw at all (default: only when stderr is a terminal). */
  enabled?: boolean;
  /** Where the line goes (default: stderr). */
  write?: (text: string) => void;
  /** Milliseconds since some origin (default `performance.now`). */
  now?: () => number;
}

/**
 * A progress line on stderr, drawn only on a terminal. Call {@link ProgressLine.clear} before
 * printing anything, then {@link ProgressLine.update} to draw it again.
 *
 * @example
 * ```ts
 * const drawn: string[] = [];
 * const progress = new ProgressLine("classified", 2, { enabled: true, write: (t) => drawn.push(t), now: () => 0 });
 * progress.update(1);
 * progress.clear();
 * console.log(JSON.stringify(drawn)); // ["\r\u001b[2Kclassified 1/2","\r\u001b[2K"]
 * ```
 */
export class ProgressLine {
  readonly #label: string;
  readonly #total: number;
  readonly #enabled: boolean;
  readonly #write: (text: string) => void;
  readonly #now: () => number;
  readonly #start: number;
  #drawn = false;

  /** A line for `total` items, labelled `label` (`classified 3/10 …`). */
  constructor(label: string, total: number, options: ProgressOptions = {}) {
    this.#label = label;
    this.#total = total;
    this.#enabled = options.enabled ?? Deno.stderr.isTerminal();
    const encoder = new TextEncoder();
    this.#write = options.write ?? ((text) => Deno.stderr.writeSync(encoder.encode(text)));
    this.#now = options.now ?? (() => performance.now());
    this.#start = this.#now();
  }

  /** Draws the line for `done` items, replacing the one drawn before. */
  update(done: number): void {
    if (!this.#enabled) return;
    const elapsed = this.#now() - this.#start;
    this.#write(CLEAR_LINE + formatProgress(this.#label, done, this.#total, elapsed));
    this.#drawn = true;
  }

  /** Erases the line, if drawn, so that the next output starts on a clean line. */
  clear(): void {
    if (!this.#drawn) return;
    this.#write(CLEAR_LINE);
    this.#drawn = false;
  }
}
