/**
 * The fuzzer's child process: reads inputs `[--from, --to)` of one target and reports each
 * outcome as a line on stdout, which the harness (`fuzz.ts`) watches. Running in a process of
 * its own lets the harness kill a reader stuck in a loop (a Worker's `terminate` does not stop
 * synchronous code) and survive out-of-memory deaths and WebAssembly aborts.
 *
 * Before any reader is prepared (`FuzzTarget.load`), typed-array and ArrayBuffer constructors
 * and `WebAssembly.Memory.prototype.grow` are wrapped by an allocation guard: an allocation larger
 * than the target's limit for the input (by default 64 × its size, at least 32 MiB) is refused
 * and reported, since it means a reader trusted a size field without checking it against the
 * file.
 *
 * ```sh
 * deno run -A tests/fuzz/runner.ts --reader npy --seed 1 --from 0 --to 100
 * deno run -A tests/fuzz/runner.ts --reader npy --seed 1 --from 57 --to 58 --verbose --save /tmp/x.npy
 * ```
 *
 * @module
 */

import { parseArgs } from "@std/cli/parse-args";
import { hashString, mixSeed, mutate, Rng } from "./mutate.ts";
import { type FuzzSeed, type FuzzTarget, TARGETS } from "./targets.ts";
import type { FormatHints } from "./mutate.ts";

/**
 * Marks the runner's protocol lines among whatever a reader's library prints to stdout.
 *
 * @example
 * ```ts
 * import { PROTOCOL_PREFIX } from "./runner.ts";
 * const line = `${PROTOCOL_PREFIX}{"i":3,"o":"ok","ms":0.2}`;
 * console.log(JSON.parse(line.slice(PROTOCOL_PREFIX.length)).o); // "ok"
 * ```
 */
export const PROTOCOL_PREFIX: string = "\u0001fuzz\u0001";

/** V8's messages for WebAssembly traps, and Emscripten's for an abort. */
const WASM_TRAP =
  /Aborted\(|null function|memory access out of bounds|table index is out of bounds|unreachable|divide by zero|integer overflow|call stack exhausted|function signature mismatch/;

/** What one input did, as the runner reports it. */
export type Outcome = "ok" | "rejected" | "crash" | "alloc" | "slow";

/** One protocol line. */
export interface RunnerLine {
  /** The input's index. */
  i?: number;
  /** Its outcome. */
  o?: Outcome;
  /** How long the reader took, in milliseconds. */
  ms?: number;
  /** The error message (for `rejected`, only the first time this runner sees it). */
  m?: string;
  /** The runner has loaded its target and starts reading. */
  ready?: boolean;
  /** The runner read all its inputs. */
  done?: boolean;
  /** The runner stops after a WebAssembly trap, whose library state cannot be trusted. */
  restart?: boolean;
}

/** Allocations refused during the current input. */
const violations: string[] = [];
/** The current input's allocation limit in bytes. */
let allocationLimit = Infinity;

function refuseAllocation(what: string, bytes: number): never {
  violations.push(`${what} asks for ${bytes} bytes, over the ${allocationLimit}-byte limit`);
  throw new RangeError(`fuzz allocation guard: ${what} asks for ${bytes} bytes`);
}

const GUARDED_CONSTRUCTORS = [
  "ArrayBuffer",
  "Uint8Array",
  "Uint8ClampedArray",
  "Int8Array",
  "Uint16Array",
  "Int16Array",
  "Uint32Array",
  "Int32Array",
  "Float32Array",
  "Float64Array",
  "BigInt64Array",
  "BigUint64Array",
] as const;

/**
 * Wraps the constructors in proxies that check a numeric length first; `instanceof`,
 * statics and subclassing keep working, since a proxy forwards everything else.
 */
function installAllocationGuard(): void {
  const globals = globalThis as unknown as Record<string, unknown>;
  for (const name of GUARDED_CONSTRUCTORS) {
    const original = globals[name] as (new (...args: unknown[]) => object) & {
      BYTES_PER_ELEMENT?: number;
    };
    globals[name] = new Proxy(original, {
      construct(target, args, newTarget) {
        const [length] = args;
        if (typeof length === "number") {
          const bytes = length * (target.BYTES_PER_ELEMENT ?? 1);
          if (bytes > allocationLimit) refuseAllocation(`new ${name}(${length})`, bytes);
        }
        return Reflect.construct(target, args, newTarget);
      },
    });
  }
  // Emscripten grows its heap by a fifth at a time, so steps up to a quarter of the current
  // size are its own growth, not an allocation a size field asked for.
  const grow = WebAssembly.Memory.prototype.grow;
  WebAssembly.Memory.prototype.grow = function (this: WebAssembly.Memory, pages: number) {
    const bytes = pages * 65536;
    if (bytes > Math.max(allocationLimit, this.buffer.byteLength / 4)) {
      refuseAllocation(`WebAssembly memory grow`, bytes);
    }
    return grow.call(this, pages);
  };
}

const encoder = new TextEncoder();

function send(line: RunnerLine): void {
  const bytes = encoder.encode(`${PROTOCOL_PREFIX}${JSON.stringify(line)}\n`);
  for (let written = 0; written < bytes.length;) {
    written += Deno.stdout.writeSync(bytes.subarray(written));
  }
}

/** One input: unmutated seeds first (they must read), then mutations of a random seed. */
export interface FuzzInput {
  /** The file's bytes. */
  bytes: Uint8Array;
  /** Companion files, possibly one of them mutated. */
  companions?: Map<string, Uint8Array>;
  /** Which seed it came from. */
  seedLabel: string;
}

/**
 * The input `index` of a target under run seed `seed`, a pure function of its arguments.
 *
 * @example
 * ```ts
 * import { generateInput } from "./runner.ts";
 * import { TARGETS } from "./targets.ts";
 * const target = TARGETS[0];
 * const seeds = await target.seeds();
 * const input = generateInput(target, seeds, seeds.map((s) => target.hints(s.bytes)), 1, 42);
 * ```
 */
export function generateInput(
  target: FuzzTarget,
  seeds: readonly FuzzSeed[],
  hints: readonly FormatHints[],
  seed: number,
  index: number,
): FuzzInput {
  if (index < seeds.length) {
    const { bytes, companions, label } = seeds[index];
    return { bytes, companions, seedLabel: label };
  }
  const rng = new Rng(mixSeed(seed, hashString(target.name), index));
  const which = rng.below(seeds.length);
  const { bytes, companions, label } = seeds[which];
  if (companions && companions.size > 0 && rng.chance(0.15)) {
    const name = rng.pick([...companions.keys()]);
    const mutated = new Map(companions);
    mutated.set(name, mutate(rng, companions.get(name)!, { fields: [] }));
    return { bytes, companions: mutated, seedLabel: `${label}, shard ${name} mutated` };
  }
  return { bytes: mutate(rng, bytes, hints[which]), companions, seedLabel: label };
}

function normalise(error: unknown): string {
  const text = error instanceof Error
    ? `${error.name}: ${error.message}`
    : `thrown ${String(error)}`;
  return text.length > 400 ? `${text.slice(0, 400)}…` : text;
}

async function main(): Promise<void> {
  const args = parseArgs(Deno.args, {
    string: ["reader", "seed", "from", "to", "budget-ms", "save", "health-every"],
    boolean: ["verbose"],
  });
  const target = TARGETS.find((candidate) => candidate.name === args.reader);
  if (!target) throw new Error(`unknown reader '${args.reader}'`);
  const seed = Number(args.seed ?? 1);
  const from = Number(args.from ?? 0);
  const to = Number(args.to ?? from + 1);
  const budgetMs = Number(args["budget-ms"] ?? 2000);
  const healthEvery = Number(args["health-every"] ?? 100);

  const seeds = await target.seeds();
  const hints = seeds.map((item) => target.hints(item.bytes));
  installAllocationGuard();
  const read = await target.load();
  // Imported after the guard like the readers, so that it is the same class they throw.
  const { ZooFormatError } = await import("../../arch/errors.ts");
  const limitFor = target.allocationLimit ??
    ((inputBytes: number) => Math.max(32 << 20, 64 * inputBytes));
  const seenMessages = new Set<string>();
  /** Whether the reader still reads every seed: a hostile input must not break later reads. */
  const healthy = async (index: number): Promise<string | undefined> => {
    for (const { bytes, companions, label } of seeds) {
      try {
        await read(bytes, companions);
      } catch (error) {
        return `the reader no longer reads seed ${label} (health check after input ${index}): ${
          normalise(error)
        }`;
      }
    }
    return undefined;
  };
  send({ ready: true });

  for (let index = from; index < to; index++) {
    const input = generateInput(target, seeds, hints, seed, index);
    if (args.save) await Deno.writeFile(args.save, input.bytes);
    let inputBytes = input.bytes.length;
    for (const companion of input.companions?.values() ?? []) inputBytes += companion.length;
    violations.length = 0;
    allocationLimit = limitFor(inputBytes);
    let outcome: Outcome = "ok";
    let message: string | undefined;
    let trapped = false;
    const start = performance.now();
    try {
      await read(input.bytes, input.companions);
    } catch (error) {
      const expected = error instanceof ZooFormatError &&
        error.message.startsWith(target.file);
      outcome = expected ? "rejected" : "crash";
      message = normalise(error);
      trapped = error instanceof WebAssembly.RuntimeError;
      if (args.verbose) console.error(error);
    }
    const ms = performance.now() - start;
    allocationLimit = Infinity;
    // A WebAssembly trap or abort that the reader reported as a format error still is a crash.
    const aborted = message !== undefined && WASM_TRAP.test(message);
    const broken = (aborted || (index + 1) % healthEvery === 0) ? await healthy(index) : undefined;
    if (aborted || broken) {
      outcome = "crash";
      message = broken ?? message;
    } else if (violations.length > 0) {
      outcome = "alloc";
      message = `${violations[0]} (reader then: ${message ?? "succeeded"})`;
    } else if (outcome !== "crash" && ms > budgetMs) {
      outcome = "slow";
      message = `took ${Math.round(ms)} ms (${message ?? "succeeded"})`;
    }
    if (index < seeds.length && outcome !== "ok") {
      outcome = "crash";
      message = `seed ${input.seedLabel} does not read: ${message}`;
    }
    if (args.verbose) {
      console.error(`input ${index} (${input.seedLabel}): ${outcome} ${message ?? ""}`);
    }
    const fresh = message !== undefined && !seenMessages.has(message);
    if (message !== undefined) seenMessages.add(message);
    send({
      i: index,
      o: outcome,
      ms: Math.round(ms * 100) / 100,
      ...(outcome !== "rejected" || fresh ? { m: message } : {}),
    });
    // After a trap or a failed health check the library's state cannot be trusted: start afresh.
    if (trapped || broken) {
      send({ restart: true });
      Deno.exit(3);
    }
  }
  send({ done: true });
  Deno.exit(0);
}

if (import.meta.main) await main();
