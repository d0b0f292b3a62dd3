/**
 * What every command shares: the parsed command line, the one error that means "the user
 * typed it wrong", the option helpers, and the choice of tfjs backend and engine.
 *
 * @example
 * ```ts
 * import { parseArgv, positiveInt } from "./args.ts";
 * const args = parseArgv(["classify", "cat.jpg", "--top", "3"]);
 * console.log(args._, positiveInt(args, "top", 5)); // [ "classify", "cat.jpg" ] 3
 * ```
 *
 * @module
 */

import { parseArgs } from "@std/cli/parse-args";
import { type BackendChoice, hardwareGpuAvailable, useBackend } from "../runtime/backend.ts";
import type { EngineChoice } from "../runtime/engine.ts";

/**
 * Parses the command line: the command and its operands in `_`, options by name.
 *
 * @example
 * ```ts
 * const args = parseArgv(["list", "--json"]);
 * console.log(args._[0], args.json); // list true
 * ```
 */
export function parseArgv(argv: string[]) {
  return parseArgs(argv, {
    string: [
      "model",
      "top",
      "backend",
      "batch",
      "out",
      "arch",
      "weights",
      "input",
      "output",
      "input-layout",
      "threads",
    ],
    boolean: ["json", "json-array", "verify", "help"],
    alias: { h: "help", o: "out", m: "model" },
  });
}

/** A parsed command line (see {@link parseArgv}). */
export type Args = ReturnType<typeof parseArgv>;

/**
 * A user's mistake: printed without a stack trace, and the CLI exits with 2.
 *
 * @example
 * ```ts
 * const error = new UsageError("missing --out (see --help)");
 * console.log(error.message); // missing --out (see --help)
 * ```
 */
export class UsageError extends Error {}

/**
 * The value of an option the command cannot do without.
 *
 * @example
 * ```ts
 * console.log(option(parseArgv(["convert", "a.pth", "--out", "a.safetensors"]), "out")); // a.safetensors
 * ```
 */
export function option(args: Args, name: string): string {
  const value = args[name as keyof Args];
  if (typeof value !== "string" || value === "") {
    throw new UsageError(`missing --${name} (see --help)`);
  }
  return value;
}

/**
 * The value of an option that counts something, or `fallback` when it is not given.
 *
 * @example
 * ```ts
 * const args = parseArgv(["classify", "cat.jpg", "--batch", "8"]);
 * console.log(positiveInt(args, "batch", 16), positiveInt(args, "top", 5)); // 8 5
 * ```
 */
export function positiveInt(args: Args, name: string, fallback: number): number {
  const raw = args[name as keyof Args];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) {
    throw new UsageError(`--${name} must be a positive integer, got '${raw}'`);
  }
  return n;
}

/**
 * Activates `--backend`. Without it, a hardware GPU gets WebGPU and everything else wasm:
 * a software WebGPU adapter (llvmpipe) is several times slower than wasm. `--threads` sets
 * the wasm threads; by default a model that runs on tfjs gets one per core, while tfjs work
 * around onnxruntime (preprocessing) stays on the single-threaded build, which starts faster.
 *
 * @example
 * ```ts
 * console.log(await backend(parseArgv(["bench", "--backend", "cpu"]), true)); // cpu
 * ```
 */
export async function backend(args: Args, modelRunsOnTfjs: boolean): Promise<string> {
  const choice =
    (args.backend ?? ((await hardwareGpuAvailable()) ? "webgpu" : "wasm")) as BackendChoice;
  if (!["auto", "webgpu", "wasm", "cpu"].includes(choice)) {
    throw new UsageError(`--backend must be auto, webgpu, wasm or cpu, got '${choice}'`);
  }
  const threads = positiveInt(
    args,
    "threads",
    modelRunsOnTfjs ? Math.min(navigator.hardwareConcurrency, 8) : 1,
  );
  if (threads > 8) throw new UsageError(`--threads must be from 1 to 8, got ${threads}`);
  return await useBackend(choice, { wasmThreads: threads });
}

/**
 * `--engine`, defaulting to tfjs when only `--backend` was given.
 *
 * @example
 * ```ts
 * console.log(engine(parseArgv(["classify"])), engine(parseArgv(["classify", "--backend", "cpu"]))); // auto tfjs
 * ```
 */
export function engine(args: Args): EngineChoice {
  const choice = args.engine ?? (args.backend ? "tfjs" : "auto");
  if (!["auto", "tfjs", "onnxruntime"].includes(choice)) {
    throw new UsageError(`--engine must be auto, tfjs or onnxruntime, got '${choice}'`);
  }
  return choice as EngineChoice;
}
