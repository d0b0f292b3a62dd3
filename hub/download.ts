/**
 * Downloading a URL into a `.part` file over HTTP: an existing part is continued with
 * `Range: bytes=N-` (a server that ignores the Range restarts it from byte 0), a dropped or
 * stalled connection is retried from the bytes received, and progress is reported through a
 * {@link TransferMeter}. What the bytes must hash to, and where they end up, is the cache's
 * business (`cache.ts`).
 *
 * @example
 * ```ts
 * import { resumeDownload, TransferMeter } from "./download.ts";
 *
 * const body = new Uint8Array(100_000).fill(7);
 * const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () =>
 *   new Response(body));
 * const part = await Deno.makeTempFile({ suffix: ".part" });
 * const meter = new TransferMeter("demo.bin", ({ received, total }) => console.log(received, total));
 * await resumeDownload(`http://127.0.0.1:${server.addr.port}/demo.bin`, part, meter); // 0 100000, then 100000 100000
 * console.log((await Deno.stat(part)).size); // 100000
 * await server.shutdown();
 * await Deno.remove(part);
 * ```
 *
 * @module
 */

/** Download progress, reported at most every 100 ms and once at the end. */
export interface DownloadProgress {
  /** Bytes of the file on disk so far, including a resumed part. */
  received: number;
  /** Size of the whole file, when the server says it. */
  total?: number;
  /** Bytes per second during this call. */
  rate: number;
  /** Estimated seconds left, when the total is known and the rate is positive. */
  etaSeconds?: number;
}

const PROGRESS_INTERVAL_MS = 100;
/** Consecutive failed attempts that received no byte before a URL is given up. */
const MAX_ATTEMPTS_WITHOUT_PROGRESS = 5;
/** A connection that delivers nothing for this long is dropped and resumed. */
const IDLE_TIMEOUT_MS = 60_000;

/**
 * Waits `ms` milliseconds; rejects with the signal's reason as soon as it aborts.
 *
 * @example
 * ```ts
 * import { sleep } from "./download.ts";
 * await sleep(10);
 * await sleep(10_000, AbortSignal.abort(new Error("cancelled"))).catch((e) => console.log(e.message)); // cancelled
 * ```
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    signal?.throwIfAborted();
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["kB", "MB", "GB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

function formatSeconds(seconds: number): string {
  const s = Math.ceil(seconds);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

/** Turns byte counts into throttled {@link DownloadProgress} reports and an optional bar. */
export class TransferMeter {
  readonly #file: string;
  readonly #onProgress?: (progress: DownloadProgress) => void;
  readonly #bar: boolean;
  readonly #started = performance.now();
  #baseline?: number;
  #lastReport = -Infinity;

  /**
   * Starts the clock of the rate.
   *
   * @param file The name the progress bar shows.
   * @param onProgress Called with each report.
   * @param bar Whether to draw a progress bar on stderr; it stays silent when stderr is not a
   *   terminal.
   */
  constructor(file: string, onProgress?: (progress: DownloadProgress) => void, bar = false) {
    this.#file = file;
    this.#onProgress = onProgress;
    this.#bar = bar && Deno.stderr.isTerminal();
  }

  /**
   * Records the bytes on disk so far; reports when 100 ms have passed since the last report, or
   * when `final`. The first call's count is the baseline of the rate (bytes resumed from an
   * earlier run do not count as speed).
   *
   * @param received Bytes of the file on disk, including a resumed part.
   * @param total Size of the whole file, when known.
   * @param final Whether this is the last report, made whatever the time.
   */
  update(received: number, total: number | undefined, final = false): void {
    this.#baseline ??= received;
    const now = performance.now();
    if (!final && now - this.#lastReport < PROGRESS_INTERVAL_MS) return;
    this.#lastReport = now;
    const rate = (received - this.#baseline) / (Math.max(now - this.#started, 1) / 1000);
    const etaSeconds = total !== undefined && rate > 0
      ? Math.max(total - received, 0) / rate
      : undefined;
    this.#onProgress?.({ received, total, rate, etaSeconds });
    if (this.#bar) this.#draw(received, total, rate, etaSeconds, final);
  }

  #draw(received: number, total?: number, rate = 0, eta?: number, final = false): void {
    const width = 24;
    const filled = total ? Math.min(width, Math.floor((received / total) * width)) : 0;
    const bar = total ? `[${"#".repeat(filled)}${".".repeat(width - filled)}] ` : "";
    const size = total ? `${formatBytes(received)} / ${formatBytes(total)}` : formatBytes(received);
    const timing = eta === undefined ? "" : `  ETA ${formatSeconds(eta)}`;
    const line = `\r${this.#file} ${bar}${size}  ${formatBytes(rate)}/s${timing}\x1b[K`;
    Deno.stderr.writeSync(new TextEncoder().encode(final ? `${line}\n` : line));
  }
}

/** A failure worth another attempt (network drop, 5xx, short body), as opposed to a 404. */
class RetryableError extends Error {}

/**
 * The URL's host name does not resolve: no network, or a mistyped mirror. Retrying cannot
 * help, so the download fails at once.
 *
 * @example
 * ```ts
 * import { HostNotFoundError } from "./download.ts";
 * const error = new HostNotFoundError("download.pytorch.org");
 * console.log(error.message); // download.pytorch.org does not resolve (no network, or a mistyped host)
 * ```
 */
export class HostNotFoundError extends Error {
  /** The host that does not resolve. */
  readonly host: string;
  /**
   * Creates the error for a host.
   *
   * @example
   * ```ts
   * console.log(new HostNotFoundError("example.invalid").host); // example.invalid
   * ```
   */
  constructor(host: string, options?: ErrorOptions) {
    super(`${host} does not resolve (no network, or a mistyped host)`, options);
    this.name = "HostNotFoundError";
    this.host = host;
  }
}

/** Whether a failed `fetch` failed to look its host up (Deno's message says `dns error`). */
function isLookupFailure(error: unknown): boolean {
  const messages = [error, (error as Error)?.cause].map((e) => e instanceof Error ? e.message : "");
  return messages.some((m) => /dns error|failed to lookup address/i.test(m));
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await Deno.stat(path)).size;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return 0;
    throw error;
  }
}

function parseContentRange(header: string | null): { start?: number; total?: number } {
  const match = header?.match(/^bytes\s+(?:(\d+)-\d+|\*)\/(\d+|\*)$/);
  if (!match) return {};
  return {
    start: match[1] === undefined ? undefined : Number(match[1]),
    total: match[2] === "*" ? undefined : Number(match[2]),
  };
}

/** One HTTP request that appends to (or restarts) `partPath`; resolves when the file is whole. */
async function transferOnce(
  url: string,
  partPath: string,
  meter: TransferMeter,
  signal?: AbortSignal,
): Promise<void> {
  const offset = await fileSize(partPath);
  const idle = new AbortController();
  let idleTimer = setTimeout(() => idle.abort(), IDLE_TIMEOUT_MS);
  const requestSignal = signal ? AbortSignal.any([signal, idle.signal]) : idle.signal;
  try {
    const headers: Record<string, string> = { "accept-encoding": "identity" };
    if (offset > 0) headers.range = `bytes=${offset}-`;
    let response: Response;
    try {
      response = await fetch(url, { headers, signal: requestSignal });
    } catch (error) {
      if (signal?.aborted) throw error;
      if (isLookupFailure(error)) throw new HostNotFoundError(new URL(url).host, { cause: error });
      throw new RetryableError(`request failed: ${error}`, { cause: error });
    }
    if (response.status === 416 && offset > 0) {
      await response.body?.cancel();
      // Asked past the end: the part is already whole, or stale and must start over.
      if (parseContentRange(response.headers.get("content-range")).total === offset) return;
      await Deno.truncate(partPath, 0);
      throw new RetryableError(`server refused range ${offset}-; restarting`);
    }
    if (!response.ok) {
      await response.body?.cancel();
      const message = `HTTP ${response.status} ${response.statusText}`;
      if (response.status >= 500 || response.status === 429) throw new RetryableError(message);
      throw new Error(`${message} for ${url}`);
    }
    let received = 0;
    let total: number | undefined;
    if (response.status === 206) {
      const range = parseContentRange(response.headers.get("content-range"));
      if (range.start !== offset) {
        await response.body?.cancel();
        await Deno.truncate(partPath, 0);
        throw new RetryableError(`server answered range start ${range.start}, asked ${offset}`);
      }
      received = offset;
      total = range.total;
    } else {
      // 200: the server ignored the Range, so the body is the whole file from byte 0.
      const length = response.headers.get("content-length");
      total = length === null ? undefined : Number(length);
    }
    using file = await Deno.open(partPath, {
      write: true,
      create: true,
      append: received > 0,
      truncate: received === 0,
    });
    meter.update(received, total);
    try {
      for await (const chunk of response.body ?? []) {
        clearTimeout(idleTimer);
        idleTimer = setTimeout(() => idle.abort(), IDLE_TIMEOUT_MS);
        for (let written = 0; written < chunk.length;) {
          written += await file.write(chunk.subarray(written));
        }
        received += chunk.length;
        meter.update(received, total);
      }
    } catch (error) {
      if (signal?.aborted) throw error;
      throw new RetryableError(`connection dropped after ${received} bytes: ${error}`, {
        cause: error,
      });
    }
    if (total !== undefined && received < total) {
      throw new RetryableError(`connection closed after ${received} of ${total} bytes`);
    }
    meter.update(received, total ?? received, true);
  } finally {
    clearTimeout(idleTimer);
  }
}

/**
 * Completes `partPath` from `url`: continues the bytes already there with a Range request, and
 * retries a dropped or stalled connection (5xx and 429 answers too) from the bytes received,
 * with backoff; it gives up after 5 attempts in a row that brought no byte.
 *
 * @param url Where to download from.
 * @param partPath The partial file, created when missing.
 * @param meter Where the progress goes.
 * @param signal Cancels the download.
 * @returns Whether the part held bytes (from an earlier run) when the call began.
 * @throws {HostNotFoundError} At once when the host does not resolve.
 * @throws {Error} For an answer that retrying cannot fix (a 404, say), naming the URL, or after
 *   too many failed attempts; the signal's reason when it aborts.
 */
export async function resumeDownload(
  url: string,
  partPath: string,
  meter: TransferMeter,
  signal?: AbortSignal,
): Promise<boolean> {
  const resumed = (await fileSize(partPath)) > 0;
  for (let failures = 0;;) {
    const before = await fileSize(partPath);
    try {
      await transferOnce(url, partPath, meter, signal);
      return resumed;
    } catch (error) {
      if (!(error instanceof RetryableError)) throw error;
      failures = (await fileSize(partPath)) > before ? 1 : failures + 1;
      if (failures > MAX_ATTEMPTS_WITHOUT_PROGRESS) {
        throw new Error(
          `download of ${url} failed ${MAX_ATTEMPTS_WITHOUT_PROGRESS} times in a row: ${error.message}`,
          { cause: error },
        );
      }
      await sleep(Math.min(100 * 2 ** failures, 3_000), signal);
    }
  }
}
