/**
 * The command line's dispatch: global flags, the command word, `help`, and how errors are
 * printed: a user's mistake or a bad file as one line without a stack trace (the whole stack
 * with `--verbose`), with exit code 2 for usage errors and 1 for everything else.
 *
 * @example
 * ```ts
 * import { main } from "./main.ts";
 * console.log(await main(["info", "cifar_resnet20.cifar10"])); // (the entry as JSON, then) 0
 * ```
 *
 * @module
 */

import { parseCommand, UsageError } from "./args.ts";
import { type Args, type CommandSpec, GLOBAL_FLAGS } from "./flags.ts";
import { commandHelp, overallHelp, VERSION } from "./help.ts";
import { CLASSIFY, classify } from "./classify.ts";
import { CONVERT, convert } from "./convert.ts";
import { PREDICT, predict } from "./predict.ts";
import { LIST, list } from "./list.ts";
import { INFO, info } from "./info.ts";
import { PULL, pull } from "./pull.ts";
import { BENCH, bench } from "./bench.ts";
import { CACHE, cache } from "./cache.ts";
import { EMBED, embed } from "./embed.ts";
import { FINETUNE, finetune } from "./finetune.ts";
import { didYouMean } from "../arch/suggest.ts";

/** A command's spec with its function, its arguments' types checked here and nowhere else. */
interface Command {
  spec: CommandSpec;
  /** Parses the arguments; the command runs when `run` is called. */
  prepare(argv: readonly string[]): { args: Args<CommandSpec>; run(): Promise<void> | void };
}

function command<Spec extends CommandSpec>(
  spec: Spec,
  run: (args: Args<Spec>) => Promise<void> | void,
): Command {
  return {
    spec,
    prepare(argv) {
      const args = parseCommand(spec, argv);
      return { args, run: () => run(args) };
    },
  };
}

const COMMANDS: readonly Command[] = [
  command(CLASSIFY, classify),
  command(CONVERT, convert),
  command(PREDICT, predict),
  command(LIST, list),
  command(INFO, info),
  command(PULL, pull),
  command(BENCH, bench),
  command(EMBED, embed),
  command(FINETUNE, finetune),
  command(CACHE, cache),
];

const SPECS = COMMANDS.map((c) => c.spec);

/** The command a word names, or a usage error naming the nearest. */
function find(word: string): Command {
  const found = COMMANDS.find((c) => c.spec.name === word);
  if (found) return found;
  const names = [...SPECS.map((s) => s.name), "help"];
  throw new UsageError(
    `unknown command '${word}'${didYouMean(word, names)}; the commands are ${names.join(", ")}`,
  );
}

/** Where the command word is: after the global flags written before it, refusing others. */
function leadingGlobals(argv: readonly string[]): number {
  const spellings: string[] = GLOBAL_FLAGS.flatMap((f) =>
    [f.name, ...("aliases" in f ? f.aliases : [])].map((n) => n.length > 1 ? `--${n}` : `-${n}`)
  );
  let i = 0;
  for (; i < argv.length && argv[i].startsWith("-"); i++) {
    if (!spellings.includes(argv[i])) {
      const name = argv[i].replace(/^--?/, "").split("=")[0];
      const owners = SPECS.filter((s) =>
        s.flags.some((f) => f.name === name || (f.aliases ?? []).includes(name))
      ).map((s) => s.name);
      throw new UsageError(
        `unknown flag ${argv[i]} before the command` +
          (owners.length
            ? `; it is a flag of ${owners.join(", ")}, and goes after the command`
            : didYouMean(argv[i], spellings)),
      );
    }
  }
  return i;
}

/** Runs one command line; throws what the command throws. */
async function dispatch(argv: readonly string[]): Promise<number> {
  const at = leadingGlobals(argv);
  const globals = argv.slice(0, at);
  const word = argv[at];
  if (word === undefined || word === "help") {
    const topic = word === "help" ? argv[at + 1] : undefined;
    if (word === "help" && argv.length > at + 2) {
      throw new UsageError(`help takes one command, got also '${argv[at + 2]}'`);
    }
    if (topic !== undefined && topic !== "help") {
      console.log(commandHelp(find(topic).spec));
      return 0;
    }
    if (globals.includes("--version")) {
      console.log(`denozoo ${VERSION}`);
      return 0;
    }
    if (word === "help" || globals.some((g) => g === "--help" || g === "-h")) {
      console.log(overallHelp(SPECS));
      return 0;
    }
    console.error(overallHelp(SPECS));
    return 2;
  }
  const found = find(word);
  const { args, run } = found.prepare([...globals, ...argv.slice(at + 1)]);
  if (args.help) {
    console.log(commandHelp(found.spec));
    return 0;
  }
  if (args.version) {
    console.log(`denozoo ${VERSION}`);
    return 0;
  }
  await run();
  return 0;
}

/** The error's stack and its causes, for `--verbose`. */
function fullReport(error: unknown): string {
  const lines: string[] = [];
  for (let e: unknown = error, depth = 0; e !== undefined && depth < 5; depth++) {
    lines.push(e instanceof Error ? e.stack ?? e.message : String(e));
    e = e instanceof Error ? e.cause : undefined;
    if (e !== undefined) lines.push("caused by:");
  }
  return lines.join("\n");
}

/**
 * Runs the CLI with the given arguments; returns the exit code: 0, 2 for a usage error (an
 * unknown command or flag, a bad value, a missing operand), 1 for any other failure. Errors
 * print as one line, `denozoo: …`, on stderr.
 *
 * @example
 * ```ts
 * console.log(await main(["frobnicate"])); // (an error naming the commands on stderr, then) 2
 * console.log(await main(["--version"])); // (denozoo 0.1.0, then) 0
 * ```
 */
export async function main(argv: string[]): Promise<number> {
  try {
    return await dispatch(argv);
  } catch (error) {
    const verbose = argv.includes("--verbose");
    const message = error instanceof Error ? error.message : String(error);
    console.error(verbose ? `denozoo: ${fullReport(error)}` : `denozoo: ${message}`);
    return error instanceof UsageError ? 2 : 1;
  }
}
