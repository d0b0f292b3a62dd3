/**
 * Fuzz harness for every reader of hostile input: ONNX, HDF5 and `.keras` and tfjs Keras files,
 * PyTorch zip and legacy checkpoints, safetensors, `.npy`, JPEG/PNG/GIF/WebP images and the
 * registry JSON. Each input is a mutated or truncated valid seed (see `mutate.ts` and
 * `targets.ts`); the reader must either succeed or throw the project's `ZooFormatError` with a
 * message that starts with the file name. Anything else is a finding:
 *
 * - crash: any other exception (TypeError, RangeError, a WebAssembly trap) or a dead process;
 * - hang: a read that takes longer than the budget (2 s), or never ends (the process is killed);
 * - alloc: a single allocation over the input's limit (64 × its size, at least 32 MiB; images
 *   up to their pixel cap), i.e. a size field trusted without checking it against the file.
 *
 * Readers run in child processes (`runner.ts`), `--jobs` at a time, restarted after a kill or
 * a trap. A summary table lists per reader the inputs, outcomes, distinct error messages
 * (digits normalised to N), findings and time; the exit code is 1 when there is any finding.
 *
 * ```sh
 * deno run -A tests/fuzz/fuzz.ts                       # 10,000 inputs per reader, seed 1
 * deno run -A tests/fuzz/fuzz.ts --reader png --inputs 50000 --seed 7
 * deno run -A tests/fuzz/fuzz.ts --reader npy --seed 1 --index 1234   # replay one input
 * deno run -A tests/fuzz/fuzz.ts --findings findings.jsonl   # every finding, one JSON a line
 * ```
 *
 * @module
 */

import { parseArgs } from "@std/cli/parse-args";
import { PROTOCOL_PREFIX, type RunnerLine } from "./runner.ts";
import { TARGETS } from "./targets.ts";

/** Options of {@link runFuzz}. */
export interface FuzzOptions {
  /** The run seed: the same seed gives the same inputs. */
  seed: number;
  /** Inputs per reader, the unmutated seeds included. */
  inputs: number;
  /** Reader names to run (`TARGETS[].name`); default all. */
  readers?: string[];
  /** Child processes at a time. */
  jobs: number;
  /** A read slower than this many milliseconds is a hang. */
  budgetMs: number;
  /** Called with a line of progress now and then. */
  log?: (line: string) => void;
}

/** A crash, hang or oversized allocation, with what replays it. */
export interface FuzzFinding {
  /** The reader's name. */
  reader: string;
  /** The input's index under the run seed. */
  index: number;
  /** What went wrong. */
  kind: "crash" | "hang" | "alloc";
  /** The error, the kill or the allocation. */
  message: string;
}

/** What one reader did with its inputs. */
export interface ReaderSummary {
  /** The reader's name. */
  reader: string;
  /** The reader call. */
  call: string;
  /** Inputs read. */
  inputs: number;
  /** Inputs read without error. */
  ok: number;
  /** Inputs refused with a ZooFormatError naming the file. */
  rejected: number;
  /** Distinct error messages, digits normalised to N. */
  distinctErrors: number;
  /** Findings by kind. */
  crashes: number;
  /** Reads over the budget or killed. */
  hangs: number;
  /** Oversized allocations. */
  allocs: number;
  /** Wall time of this reader's processes, in seconds. */
  seconds: number;
  /** The slowest input that finished, in milliseconds. */
  slowestMs: number;
  /** Every finding. */
  findings: FuzzFinding[];
}

const RUNNER = new URL("./runner.ts", import.meta.url).pathname;
const CONFIG = new URL("../../deno.json", import.meta.url).pathname;
/** A runner has this long to load its reader before it counts as stuck. */
const STARTUP_MS = 120_000;
/** Grace beyond the budget before a silent runner is killed. */
const KILL_GRACE_MS = 1500;

/**
 * Runs the fuzzer over the chosen readers and summarises what each did.
 *
 * @param options Seed, inputs per reader, readers, parallelism and time budget.
 * @returns One summary per reader, in `TARGETS` order.
 *
 * @example
 * ```ts
 * import { runFuzz } from "./fuzz.ts";
 * const [npy] = await runFuzz({ seed: 1, inputs: 300, readers: ["npy"], jobs: 1, budgetMs: 2000 });
 * console.log(npy.crashes + npy.hangs + npy.allocs); // 0
 * ```
 */
export async function runFuzz(options: FuzzOptions): Promise<ReaderSummary[]> {
  const chosen = options.readers ?? TARGETS.map((target) => target.name);
  const unknown = chosen.filter((name) => !TARGETS.some((target) => target.name === name));
  if (unknown.length > 0) {
    throw new RangeError(
      `unknown reader ${unknown.join(", ")}; readers: ${TARGETS.map((t) => t.name).join(", ")}`,
    );
  }
  const targets = TARGETS.filter((target) => chosen.includes(target.name));
  const summaries = new Map<string, ReaderSummary>();
  const queue = [...targets];
  const worker = async () => {
    for (let target = queue.shift(); target; target = queue.shift()) {
      const summary = await fuzzReader(target.name, target.reader, options);
      summaries.set(target.name, summary);
      options.log?.(
        `${target.name}: ${summary.inputs} inputs in ${summary.seconds.toFixed(1)} s, ` +
          `${summary.findings.length} findings`,
      );
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.jobs) }, worker));
  return targets.map((target) => summaries.get(target.name)!);
}

/** Reads all inputs of one reader, restarting its runner after each kill, death or trap. */
async function fuzzReader(
  reader: string,
  call: string,
  options: FuzzOptions,
): Promise<ReaderSummary> {
  const summary: ReaderSummary = {
    reader,
    call,
    inputs: 0,
    ok: 0,
    rejected: 0,
    distinctErrors: 0,
    crashes: 0,
    hangs: 0,
    allocs: 0,
    seconds: 0,
    slowestMs: 0,
    findings: [],
  };
  const messages = new Set<string>();
  const addFinding = (index: number, kind: FuzzFinding["kind"], message: string) => {
    summary.findings.push({ reader, index, kind, message });
    if (kind === "crash") summary.crashes++;
    if (kind === "hang") summary.hangs++;
    if (kind === "alloc") summary.allocs++;
  };
  const started = performance.now();
  let next = 0;
  while (next < options.inputs) {
    const run = await runRunner(reader, next, options, (line) => {
      if (line.i === undefined || line.o === undefined) return;
      summary.inputs++;
      summary.slowestMs = Math.max(summary.slowestMs, line.ms ?? 0);
      if (line.m !== undefined) messages.add(line.m.replace(/\d+/g, "N"));
      if (line.o === "ok") summary.ok++;
      else if (line.o === "rejected") summary.rejected++;
      else if (line.o === "slow") addFinding(line.i, "hang", line.m ?? "");
      else addFinding(line.i, line.o, line.m ?? "");
    });
    if (run.done) break;
    // The runner stopped before its last input: it was killed, died, or restarts after a trap.
    const stuck = run.lastIndex + 1;
    if (run.restart) {
      next = stuck;
      continue;
    }
    summary.inputs++;
    addFinding(stuck, run.killed ? "hang" : "crash", run.reason);
    next = stuck + 1;
  }
  summary.distinctErrors = messages.size;
  summary.seconds = (performance.now() - started) / 1000;
  return summary;
}

interface RunnerResult {
  done: boolean;
  restart: boolean;
  killed: boolean;
  lastIndex: number;
  reason: string;
}

/** Runs one runner process from input `from` to the end, watching its progress lines. */
async function runRunner(
  reader: string,
  from: number,
  options: FuzzOptions,
  onLine: (line: RunnerLine) => void,
): Promise<RunnerResult> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      `--config=${CONFIG}`,
      RUNNER,
      `--reader=${reader}`,
      `--seed=${options.seed}`,
      `--from=${from}`,
      `--to=${options.inputs}`,
      `--budget-ms=${options.budgetMs}`,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const result: RunnerResult = {
    done: false,
    restart: false,
    killed: false,
    lastIndex: from - 1,
    reason: "",
  };
  let ready = false;
  let lastProgress = performance.now();
  const watchdog = setInterval(() => {
    const allowed = ready ? options.budgetMs + KILL_GRACE_MS : STARTUP_MS;
    if (performance.now() - lastProgress > allowed && !result.killed) {
      result.killed = true;
      result.reason = `no result after ${allowed} ms: killed`;
      child.kill("SIGKILL");
    }
  }, 100);
  let stderrTail = "";
  const stderr = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      stderrTail = (stderrTail + chunk).slice(-2000);
    }
  })();
  let buffered = "";
  for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
    buffered += chunk;
    const lines = buffered.split("\n");
    buffered = lines.pop() ?? "";
    for (const text of lines) {
      const at = text.indexOf(PROTOCOL_PREFIX);
      if (at < 0) continue;
      const line = JSON.parse(text.slice(at + PROTOCOL_PREFIX.length)) as RunnerLine;
      lastProgress = performance.now();
      if (line.ready) ready = true;
      if (line.done) result.done = true;
      if (line.restart) result.restart = true;
      if (line.i !== undefined) result.lastIndex = line.i;
      onLine(line);
    }
  }
  const status = await child.status;
  await stderr;
  clearInterval(watchdog);
  if (!result.killed && !result.done && !result.restart) {
    const tail = stderrTail.trim().split("\n").slice(-3).join(" | ");
    result.reason =
      `runner died (exit ${status.code}${status.signal ? `, ${status.signal}` : ""})` +
      (tail ? `: ${tail}` : "");
  }
  return result;
}

/**
 * Formats summaries as the table the CLI prints.
 *
 * @example
 * ```ts
 * import { formatSummary, runFuzz } from "./fuzz.ts";
 * const summaries = await runFuzz({ seed: 1, inputs: 100, readers: ["npy"], jobs: 1, budgetMs: 2000 });
 * console.log(formatSummary(summaries));
 * ```
 */
export function formatSummary(summaries: readonly ReaderSummary[]): string {
  const header = [
    "reader",
    "call",
    "inputs",
    "ok",
    "rejected",
    "distinct errors",
    "crashes",
    "hangs",
    "allocs",
    "time (s)",
    "slowest (ms)",
  ];
  const rows = summaries.map((s) => [
    s.reader,
    s.call,
    String(s.inputs),
    String(s.ok),
    String(s.rejected),
    String(s.distinctErrors),
    String(s.crashes),
    String(s.hangs),
    String(s.allocs),
    s.seconds.toFixed(1),
    s.slowestMs.toFixed(0),
  ]);
  const total = (pick: (s: ReaderSummary) => number) =>
    String(summaries.reduce((sum, s) => sum + pick(s), 0));
  rows.push([
    "total",
    "",
    total((s) => s.inputs),
    total((s) => s.ok),
    total((s) => s.rejected),
    total((s) => s.distinctErrors),
    total((s) => s.crashes),
    total((s) => s.hangs),
    total((s) => s.allocs),
    "",
    "",
  ]);
  const widths = header.map((title, c) =>
    Math.max(title.length, ...rows.map((row) => row[c].length))
  );
  const line = (cells: string[]) =>
    `| ${
      cells.map((cell, c) => c < 2 ? cell.padEnd(widths[c]) : cell.padStart(widths[c])).join(" | ")
    } |`;
  const rule = `|${
    widths.map((width, c) => c < 2 ? `-${"-".repeat(width)}-` : `-${"-".repeat(width)}:`).join("|")
  }|`;
  return [line(header), rule, ...rows.map(line)].join("\n");
}

async function main(): Promise<number> {
  const args = parseArgs(Deno.args, {
    string: ["seed", "inputs", "reader", "jobs", "budget-ms", "index", "save", "findings"],
    default: { seed: "1", inputs: "10000", jobs: "2", "budget-ms": "2000" },
  });
  const seed = Number(args.seed);
  const budgetMs = Number(args["budget-ms"]);
  if (args.index !== undefined) {
    // Replays one input in the foreground with the full error printed.
    const { code } = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        `--config=${CONFIG}`,
        RUNNER,
        `--reader=${args.reader}`,
        `--seed=${seed}`,
        `--from=${args.index}`,
        `--to=${Number(args.index) + 1}`,
        `--budget-ms=${budgetMs}`,
        "--verbose",
        ...(args.save ? [`--save=${args.save}`] : []),
      ],
    }).spawn().status;
    return code;
  }
  const options: FuzzOptions = {
    seed,
    inputs: Number(args.inputs),
    readers: args.reader?.split(","),
    jobs: Number(args.jobs),
    budgetMs,
    log: (line) => console.error(line),
  };
  const started = performance.now();
  const summaries = await runFuzz(options);
  const findings = summaries.flatMap((s) => s.findings);
  if (args.findings) {
    await Deno.writeTextFile(args.findings, findings.map((f) => `${JSON.stringify(f)}\n`).join(""));
  }
  const shown = new Map<string, number>();
  for (const finding of findings) {
    const key = `${finding.reader} ${finding.kind} ${finding.message.replace(/\d+/g, "N")}`;
    shown.set(key, (shown.get(key) ?? 0) + 1);
    if (shown.get(key)! > 1) continue;
    console.log(
      `${finding.kind.toUpperCase()} ${finding.reader} #${finding.index}: ${finding.message}\n` +
        `  replay: deno task fuzz --reader ${finding.reader} --seed ${seed} --index ${finding.index}`,
    );
  }
  for (const [key, count] of shown) if (count > 1) console.log(`(${count}× ${key.slice(0, 160)})`);
  console.log(
    `\nseed ${seed}, ${options.inputs} inputs per reader, ${options.jobs} jobs, ` +
      `budget ${budgetMs} ms, wall time ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
  );
  console.log(formatSummary(summaries));
  return findings.length > 0 ? 1 : 0;
}

if (import.meta.main) Deno.exit(await main());
