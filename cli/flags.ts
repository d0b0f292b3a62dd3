/**
 * The command line as data: each command is a {@link CommandSpec} (its operands, its flags with
 * type, default and meaning, examples, the environment variables it reads), from which the
 * parser (`args.ts`), the validation, the "did you mean" suggestions and the help text
 * (`help.ts`) are all made. This file holds the types, the flags several commands share, the
 * global flags and the environment variables.
 *
 * @example
 * ```ts
 * import { BACKEND_FLAG } from "./flags.ts";
 * console.log(BACKEND_FLAG.choices); // [ "auto", "webgpu", "wasm", "cpu" ]
 * ```
 *
 * @module
 */

/**
 * One flag of a command.
 *
 * @example
 * ```ts
 * import type { FlagSpec } from "./flags.ts";
 * const top: FlagSpec = { name: "top", kind: "integer", min: 1, default: 5, value: "N", meaning: "classes shown per image" };
 * console.log(top.default); // 5
 * ```
 */
export interface FlagSpec {
  /** The long name, without dashes: `--top` is `top`. */
  readonly name: string;
  /** `boolean` takes no value; `integer` is checked against `min` and `max`. */
  readonly kind: "boolean" | "string" | "integer";
  /** What it does, for the help. */
  readonly meaning: string;
  /** Placeholder of the value in the help (`N`, `FILE`). */
  readonly value?: string;
  /** The value when the flag is absent: given to the command, shown in the help. */
  readonly default?: string | number;
  /** What happens when the flag is absent, where that depends on the situation (help only). */
  readonly defaultText?: string;
  /** The values a string flag accepts; any other is refused, naming the nearest. */
  readonly choices?: readonly string[];
  /** Bounds of an integer flag. */
  readonly min?: number;
  /** Bounds of an integer flag. */
  readonly max?: number;
  /** Other names: longer ones (`model`) or one letter (`m` is `-m`). */
  readonly aliases?: readonly string[];
  /** The command cannot run without it. */
  readonly required?: boolean;
}

/**
 * A command's operands (the words that are not flags).
 *
 * @example
 * ```ts
 * import type { OperandSpec } from "./flags.ts";
 * const images: OperandSpec = { name: "IMAGE…", meaning: "files, folders or globs", min: 1, max: Infinity };
 * console.log(images.min); // 1
 * ```
 */
export interface OperandSpec {
  /** Placeholder in the usage line. */
  readonly name: string;
  /** What they are, for the help. */
  readonly meaning: string;
  /** How many the command needs. */
  readonly min: number;
  /** How many it takes at most (`Infinity`: any number). */
  readonly max: number;
}

/**
 * Everything the command line knows of one command.
 *
 * @example
 * ```ts
 * import { LIST } from "./list.ts";
 * import type { CommandSpec } from "./flags.ts";
 * const spec: CommandSpec = LIST;
 * console.log(spec.name, spec.flags.map((f) => f.name)); // list [ "json" ]
 * ```
 */
export interface CommandSpec {
  /** The command word. */
  readonly name: string;
  /** A few words for the list of commands. */
  readonly brief: string;
  /** What it does, the paragraph at the top of its help. */
  readonly summary: string;
  /** Its operands; none when absent. */
  readonly operands?: OperandSpec;
  /** Its flags (the global ones are added by the parser). */
  readonly flags: readonly FlagSpec[];
  /** Two or three command lines, each with a comment after `#`. */
  readonly examples: readonly string[];
  /** The environment variables it reads (see {@link ENVIRONMENT}). */
  readonly env: readonly EnvironmentVariable[];
  /** More to say, a paragraph at the end of the help. */
  readonly notes?: string;
}

/** The value type of a flag. */
type ValueOf<F extends FlagSpec> = F extends { kind: "boolean" } ? boolean
  : F extends { kind: "integer" } ? number
  : F extends { choices: readonly (infer C)[] } ? C
  : string;

/** Whether a flag always has a value for the command: a default, or required. */
type AlwaysSet<F extends FlagSpec> = F extends { kind: "boolean" } ? true
  : F extends { default: string | number } ? true
  : F extends { required: true } ? true
  : false;

/**
 * The parsed values of a command's flags, typed from its spec: booleans are `true` or `false`,
 * integers numbers, flags with a default or required ones always set.
 */
export type FlagValues<Flags extends readonly FlagSpec[]> = {
  readonly [F in Flags[number] as F["name"]]: AlwaysSet<F> extends true ? ValueOf<F>
    : ValueOf<F> | undefined;
};

/**
 * What a command's function receives: its operands and its flags' values, plus the global
 * `verbose`.
 *
 * @example
 * ```ts
 * import { parseCommand } from "./args.ts";
 * import { INFO } from "./info.ts";
 * const args = parseCommand(INFO, ["resnet50"]);
 * console.log(args.operands, args.verbose); // [ "resnet50" ] false
 * ```
 */
export type Args<Spec extends CommandSpec> = FlagValues<Spec["flags"]> & {
  /** The operands, in order. */
  readonly operands: readonly string[];
  /** `--verbose`: errors print their stack. */
  readonly verbose: boolean;
  /** `--help`: print the command's help instead of running it. */
  readonly help: boolean;
  /** `--version`: print the version instead of running. */
  readonly version: boolean;
};

/**
 * Flags every command takes, before or after the command word.
 *
 * @example
 * ```ts
 * import { GLOBAL_FLAGS } from "./flags.ts";
 * console.log(GLOBAL_FLAGS.map((f) => f.name)); // [ "help", "version", "verbose" ]
 * ```
 */
export const GLOBAL_FLAGS = [
  { name: "help", kind: "boolean", aliases: ["h"], meaning: "show this help and exit" },
  { name: "version", kind: "boolean", meaning: "print the version and exit" },
  {
    name: "verbose",
    kind: "boolean",
    meaning: "when a command fails, print the error's stack and causes, not one line",
  },
] as const satisfies readonly FlagSpec[];

/**
 * `--model`, as `classify` reads it (and `--weights` of `predict`): a name that
 * `locateModel` resolves.
 */
export const MODEL_MEANING =
  "a registry id (resnet50.tv2_in1k; see `list`), an architecture (its default weights: " +
  "resnet50 is resnet50.tv2_in1k), a weights file (.safetensors, .onnx, .pth/.pt/.th, " +
  ".h5/.keras, model.json) or a folder `convert` wrote";

/**
 * `--backend`: the tfjs backend.
 *
 * @example
 * ```ts
 * import { BACKEND_FLAG } from "./flags.ts";
 * console.log(BACKEND_FLAG.name); // backend
 * ```
 */
export const BACKEND_FLAG = {
  name: "backend",
  kind: "string",
  value: "NAME",
  choices: ["auto", "webgpu", "wasm", "cpu"],
  defaultText: "webgpu on a hardware GPU, else wasm (a software WebGPU adapter is slower)",
  meaning: "the tfjs backend; giving it runs the model on tfjs (--engine tfjs)",
} as const satisfies FlagSpec;

/**
 * `--threads`: the wasm backend's threads.
 *
 * @example
 * ```ts
 * import { THREADS_FLAG } from "./flags.ts";
 * console.log(THREADS_FLAG.max); // 8
 * ```
 */
export const THREADS_FLAG = {
  name: "threads",
  kind: "integer",
  value: "N",
  min: 1,
  max: 8,
  defaultText: "one per core (at most 8) when the model runs on tfjs, else 1",
  meaning: "threads of the wasm backend",
} as const satisfies FlagSpec;

/**
 * `--engine`: what runs a zoo model.
 *
 * @example
 * ```ts
 * import { ENGINE_FLAG } from "./flags.ts";
 * console.log(ENGINE_FLAG.choices); // [ "auto", "tfjs", "onnxruntime" ]
 * ```
 */
export const ENGINE_FLAG = {
  name: "engine",
  kind: "string",
  value: "NAME",
  choices: ["auto", "tfjs", "onnxruntime"],
  defaultText: "auto, or tfjs when --backend is given",
  meaning: "what runs the model: auto takes tfjs-webgpu on a hardware GPU, else onnxruntime, " +
    "else tfjs; onnxruntime runs zoo ResNets and ONNX files",
} as const satisfies FlagSpec;

/**
 * `--json`.
 *
 * @example
 * ```ts
 * import { JSON_FLAG } from "./flags.ts";
 * console.log(JSON_FLAG.kind); // boolean
 * ```
 */
export const JSON_FLAG = {
  name: "json",
  kind: "boolean",
  meaning: "print JSON instead of a table",
} as const satisfies FlagSpec;

/**
 * `--labels`: class names, a label set's name or a file.
 *
 * @example
 * ```ts
 * import { LABELS_FLAG } from "./flags.ts";
 * console.log(LABELS_FLAG.value); // SET|FILE
 * ```
 */
export const LABELS_FLAG = {
  name: "labels",
  kind: "string",
  value: "SET|FILE",
  defaultText: "what the weights record, else the label set with as many classes",
  meaning:
    "class names: imagenet, imagenet_background (1001: TensorFlow's), cifar10, or a file with a JSON array, an " +
    "imagenet_class_index.json-style object or one name per line; their number must be the " +
    "model's number of classes",
} as const satisfies FlagSpec;

/**
 * The environment variables the command line reads, with what each does; a command lists those
 * it reads in its help.
 *
 * @example
 * ```ts
 * import { ENVIRONMENT } from "./flags.ts";
 * console.log(Object.keys(ENVIRONMENT)[0]); // DENOZOO_HOME
 * ```
 */
export const ENVIRONMENT = {
  DENOZOO_HOME: "the cache folder (downloads and converted models)",
  XDG_CACHE_HOME: "without DENOZOO_HOME, the cache is $XDG_CACHE_HOME/denozoo, else " +
    "~/.cache/denozoo (macOS ~/Library/Caches/denozoo, Windows %LOCALAPPDATA%\\denozoo)",
  HOME: "where ~ is, for the cache folder",
  DENOZOO_OFFLINE: "1 (or any value but 0 and false): never use the network, only the cache",
  DENOZOO_MIRROR: "URL: download URL/<upstream host>/<upstream path> instead of upstream",
} as const;

/** An environment variable the command line reads. */
export type EnvironmentVariable = keyof typeof ENVIRONMENT;

/**
 * What every command that may download reads.
 *
 * @example
 * ```ts
 * import { CACHE_ENVIRONMENT } from "./flags.ts";
 * console.log(CACHE_ENVIRONMENT.includes("DENOZOO_OFFLINE")); // true
 * ```
 */
export const CACHE_ENVIRONMENT: readonly EnvironmentVariable[] = [
  "DENOZOO_HOME",
  "DENOZOO_OFFLINE",
  "DENOZOO_MIRROR",
  "XDG_CACHE_HOME",
  "HOME",
];
