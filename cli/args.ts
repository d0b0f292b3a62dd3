/**
 * What every command shares: the parser that reads a command line against the command's
 * {@link CommandSpec} (refusing unknown flags, stray operands and bad values, each with a
 * suggestion or the value quoted), the one error that means "the user typed it wrong", and the
 * choice of tfjs backend and engine.
 *
 * @example
 * ```ts
 * import { parseCommand } from "./args.ts";
 * import { CLASSIFY } from "./classify.ts";
 * const args = parseCommand(CLASSIFY, ["cat.jpg", "--top", "3"]);
 * console.log(args.operands, args.top, args.batch); // [ "cat.jpg" ] 3 16
 * ```
 *
 * @module
 */

import { didYouMean } from "../arch/suggest.ts";
import { type BackendChoice, hardwareGpuAvailable, useBackend } from "../runtime/backend.ts";
import type { EngineChoice } from "../runtime/engine.ts";
import { type Args, type CommandSpec, type FlagSpec, GLOBAL_FLAGS } from "./flags.ts";

/**
 * A user's mistake: printed in one line without a stack trace, and the CLI exits with 2.
 *
 * @example
 * ```ts
 * const error = new UsageError("convert needs --out FILE|FOLDER");
 * console.log(error.message); // convert needs --out FILE|FOLDER
 * ```
 */
export class UsageError extends Error {}

/** How a flag is written on the command line: `--top`, or `-m` for a one-letter alias. */
function spelled(name: string): string {
  return name.length === 1 ? `-${name}` : `--${name}`;
}

/** The flag's names as the help and the suggestions spell them. */
function spellings(flag: FlagSpec): string[] {
  return [flag.name, ...flag.aliases ?? []].map(spelled);
}

/** An integer range in words, for messages. */
function rangeText(min = -Infinity, max = Infinity): string {
  if (min === 1 && max === Infinity) return "a positive integer";
  if (max === Infinity) return `an integer of at least ${min}`;
  return `an integer from ${min} to ${max}`;
}

/** A flag's value, checked against its kind, range and choices. */
function checkValue(flag: FlagSpec, raw: string): string | number {
  const name = `--${flag.name}`;
  if (flag.kind === "integer") {
    const n = /^[+-]?\d+$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isSafeInteger(n) || n < (flag.min ?? -Infinity) || n > (flag.max ?? Infinity)) {
      throw new UsageError(`${name} must be ${rangeText(flag.min, flag.max)}, got '${raw}'`);
    }
    return n;
  }
  if (flag.choices && !flag.choices.includes(raw)) {
    throw new UsageError(
      `${name} must be one of ${flag.choices.join(", ")}, got '${raw}'` +
        didYouMean(raw, flag.choices),
    );
  }
  if (raw === "") throw new UsageError(`${name} needs a value (${flag.value ?? "VALUE"}), got ''`);
  return raw;
}

/** The error for a flag the command does not have, with the nearest it does have. */
function unknownFlag(token: string, spec: CommandSpec, flags: readonly FlagSpec[]): UsageError {
  const known = flags.flatMap(spellings);
  const typed = token.split("=")[0];
  // `-j`: one letter gives too little to measure; offer the flags that start with it.
  const hint = /^-[^-]$/.test(typed)
    ? didYouMean(
      typed,
      flags.filter((f) => f.name.startsWith(typed[1])).map((f) => spelled(f.name)),
      {
        maxDistance: Infinity,
      },
    )
    : didYouMean(typed, known);
  return new UsageError(`unknown flag ${typed} for ${spec.name}${hint}`);
}

/**
 * Reads a command's arguments (what follows the command word) against its spec: flags as
 * `--name value`, `--name=value` or a one-letter `-m value`, booleans with no value, `--` ending
 * the flags; every flag's value checked (kind, range, choices), defaults filled in, required
 * flags and the number of operands checked. Each command also takes the global flags (see
 * `GLOBAL_FLAGS`); with `--help` or `--version`, nothing else is required.
 *
 * @throws {UsageError} For an unknown flag (naming the nearest), a flag given twice, a missing
 *   or bad value (quoted), a missing required flag, or too few or too many operands.
 *
 * @example
 * ```ts
 * import { CLASSIFY } from "./classify.ts";
 * try {
 *   parseCommand(CLASSIFY, ["cat.jpg", "--modle", "x"]);
 * } catch (error) {
 *   console.log((error as Error).message); // unknown flag --modle for classify (did you mean --model?)
 * }
 * try {
 *   parseCommand(CLASSIFY, ["cat.jpg", "--top", "-3"]);
 * } catch (error) {
 *   console.log((error as Error).message); // --top must be a positive integer, got '-3'
 * }
 * ```
 */
export function parseCommand<Spec extends CommandSpec>(
  spec: Spec,
  argv: readonly string[],
): Args<Spec> {
  const flags: readonly FlagSpec[] = [...spec.flags, ...GLOBAL_FLAGS];
  const byName = new Map<string, FlagSpec>();
  for (const flag of flags) {
    for (const name of [flag.name, ...flag.aliases ?? []]) byName.set(name, flag);
  }
  const values: Record<string, string | number | boolean> = {};
  const operands: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i];
    if (token === "--") {
      operands.push(...argv.slice(i + 1));
      break;
    }
    if (!token.startsWith("-") || token === "-") {
      operands.push(token);
      continue;
    }
    const long = token.startsWith("--");
    const body = token.slice(long ? 2 : 1);
    const equals = body.indexOf("=");
    const name = equals >= 0 ? body.slice(0, equals) : body;
    const flag = byName.get(name);
    if (!flag || long !== (name.length > 1)) throw unknownFlag(token, spec, flags);
    if (Object.hasOwn(values, flag.name)) {
      throw new UsageError(`--${flag.name} is given twice`);
    }
    if (flag.kind === "boolean") {
      if (equals >= 0) throw new UsageError(`--${flag.name} takes no value, got '${token}'`);
      values[flag.name] = true;
      continue;
    }
    let raw: string;
    if (equals >= 0) {
      raw = body.slice(equals + 1);
    } else {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith("--")) {
        throw new UsageError(`--${flag.name} needs a value (${flag.value ?? "VALUE"})`);
      }
      raw = next;
      i++;
    }
    values[flag.name] = checkValue(flag, raw);
  }
  const informational = values.help === true || values.version === true;
  for (const flag of flags) {
    if (Object.hasOwn(values, flag.name)) continue;
    if (flag.kind === "boolean") values[flag.name] = false;
    else if (flag.default !== undefined) values[flag.name] = flag.default;
    else if (flag.required && !informational) {
      throw new UsageError(`${spec.name} needs --${flag.name} ${flag.value ?? "VALUE"}`);
    }
  }
  checkOperands(spec, operands, informational);
  return { ...values, operands } as unknown as Args<Spec>;
}

/** Refuses too few or too many operands, naming what was expected and what was extra. */
function checkOperands(spec: CommandSpec, operands: string[], informational: boolean): void {
  const { min, max, name } = spec.operands ?? { min: 0, max: 0, name: "" };
  if (operands.length > max) {
    const extra = operands.slice(max).map((o) => `'${o}'`).join(", ");
    throw new UsageError(
      max === 0
        ? `${spec.name} takes no operands, got ${extra}`
        : `${spec.name} takes ${max === 1 ? "one" : `at most ${max}`} ${name}, got also ${extra}`,
    );
  }
  if (operands.length < min && !informational) {
    throw new UsageError(`${spec.name} needs ${name}`);
  }
}

/**
 * Refuses to write into a folder that does not exist, rather than create it: the path is most
 * likely mistyped. (An output path with no folder part lies in the working folder.)
 *
 * @throws {Deno.errors.NotFound} Naming the flag and the missing folder.
 *
 * @example
 * ```ts
 * import { outputFolderExists } from "./args.ts";
 * await outputFolderExists("logits.npy", "output");
 * await outputFolderExists("/missing/dir/y.npy", "output").catch((error) => console.log(error.message));
 * // --output /missing/dir/y.npy: the folder /missing/dir does not exist (create it first)
 * ```
 */
export async function outputFolderExists(path: string, flag: string): Promise<void> {
  const slash = path.replace(/\/+$/, "").lastIndexOf("/");
  if (slash < 0) return;
  const folder = path.slice(0, slash) || "/";
  const info = await Deno.stat(folder).catch((error) => {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  });
  if (!info?.isDirectory) {
    throw new Deno.errors.NotFound(
      `--${flag} ${path}: the folder ${folder} ${
        info ? "is not a folder" : "does not exist (create it first)"
      }`,
    );
  }
}

/**
 * Activates `--backend`. Without it, a hardware GPU gets WebGPU and everything else wasm:
 * a software WebGPU adapter (llvmpipe) is several times slower than wasm. `--threads` sets
 * the wasm threads; by default a model that runs on tfjs gets one per core, while tfjs work
 * around onnxruntime (preprocessing) stays on the single-threaded build, which starts faster.
 *
 * @example
 * ```ts
 * console.log(await backend({ backend: "cpu" }, true)); // cpu
 * ```
 */
export async function backend(
  args: { readonly backend?: string; readonly threads?: number },
  modelRunsOnTfjs: boolean,
): Promise<string> {
  const choice =
    (args.backend ?? ((await hardwareGpuAvailable()) ? "webgpu" : "wasm")) as BackendChoice;
  const threads = args.threads ??
    (modelRunsOnTfjs ? Math.min(navigator.hardwareConcurrency, 8) : 1);
  return await useBackend(choice, { wasmThreads: threads });
}

/**
 * `--engine`, defaulting to tfjs when only `--backend` was given.
 *
 * @example
 * ```ts
 * console.log(engine({}), engine({ backend: "cpu" })); // auto tfjs
 * ```
 */
export function engine(
  args: { readonly engine?: string; readonly backend?: string },
): EngineChoice {
  return (args.engine ?? (args.backend ? "tfjs" : "auto")) as EngineChoice;
}
