/**
 * The help texts, written from the commands' specs: a command's help lists its operands, every
 * flag with its meaning and default, examples and the environment variables it reads; the
 * overall help lists the commands.
 *
 * @example
 * ```ts
 * import { commandHelp } from "./help.ts";
 * import { LIST } from "./list.ts";
 * console.log(commandHelp(LIST).split("\n")[0]); // Usage: denozoo list [flags]
 * ```
 *
 * @module
 */

import { type CommandSpec, ENVIRONMENT, type FlagSpec, GLOBAL_FLAGS } from "./flags.ts";

/**
 * The version of the package: deno.json's `version` (a test keeps the two equal).
 *
 * @example
 * ```ts
 * import { VERSION } from "./help.ts";
 * console.log(VERSION); // 0.1.0
 * ```
 */
export const VERSION = "0.1.0";

const WIDTH = 100;

/** Words wrapped to lines of at most `width`, each line after the first indented. */
function wrap(text: string, width: number, indent: number): string {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  lines.push(line);
  return lines.join(`\n${" ".repeat(indent)}`);
}

/** Rows of a two-column list: the term, and its description wrapped beside it. */
function twoColumns(rows: [string, string][]): string {
  const column = Math.min(Math.max(...rows.map(([term]) => term.length)) + 2, 30);
  return rows.map(([term, text]) => {
    const indent = 2 + column;
    const body = wrap(text, WIDTH - indent, indent);
    return term.length + 2 <= column
      ? `  ${term.padEnd(column)}${body}`
      : `  ${term}\n${" ".repeat(indent)}${body}`;
  }).join("\n");
}

/** `-m, --model NAME` */
function flagTerm(flag: FlagSpec): string {
  const names = [...(flag.aliases ?? []).filter((a) => a.length === 1).map((a) => `-${a}`)];
  names.push(`--${flag.name}`);
  names.push(...(flag.aliases ?? []).filter((a) => a.length > 1).map((a) => `--${a}`));
  return flag.kind === "boolean"
    ? names.join(", ")
    : `${names.join(", ")} ${flag.value ?? "VALUE"}`;
}

/** A flag's meaning, its choices and its default, for the help. */
function flagText(flag: FlagSpec): string {
  const parts = [flag.meaning];
  if (flag.choices) parts.push(`(${flag.choices.join(", ")})`);
  if (flag.required) parts.push("[required]");
  else if (flag.default !== undefined) parts.push(`[default: ${flag.default}]`);
  else if (flag.defaultText) parts.push(`[default: ${flag.defaultText}]`);
  return parts.join(" ");
}

/** The usage line of a command. */
function usageLine(spec: CommandSpec): string {
  const operands = !spec.operands
    ? ""
    : spec.operands.min === 0
    ? ` [${spec.operands.name}]`
    : ` ${spec.operands.name}`;
  const required = spec.flags.filter((f) => f.required).map((f) => ` --${f.name} ${f.value}`);
  return `Usage: denozoo ${spec.name}${operands}${required.join("")} [flags]`;
}

/**
 * The help of one command: usage, what it does, operands, every flag (with meaning, choices and
 * default), examples, and the environment variables it reads.
 *
 * @example
 * ```ts
 * import { CLASSIFY } from "./classify.ts";
 * const help = commandHelp(CLASSIFY);
 * console.log(help.includes("--top N"), help.includes("DENOZOO_OFFLINE")); // true true
 * ```
 */
export function commandHelp(spec: CommandSpec): string {
  const sections = [
    `${usageLine(spec)}\n\n${wrap(spec.summary, WIDTH, 0)}`,
  ];
  if (spec.operands) {
    sections.push(`Operands:\n${twoColumns([[spec.operands.name, spec.operands.meaning]])}`);
  }
  sections.push(
    `Flags:\n${
      twoColumns([...spec.flags, ...GLOBAL_FLAGS].map((f) => [flagTerm(f), flagText(f)]))
    }`,
  );
  sections.push(`Examples:\n${spec.examples.map((e) => `  ${e}`).join("\n")}`);
  if (spec.env.length > 0) {
    sections.push(
      `Environment:\n${twoColumns(spec.env.map((name) => [name, ENVIRONMENT[name]]))}`,
    );
  }
  if (spec.notes) sections.push(wrap(spec.notes, WIDTH, 0));
  return sections.join("\n\n");
}

/**
 * The overall help: what the tool is, its commands and the global flags.
 *
 * @example
 * ```ts
 * import { LIST } from "./list.ts";
 * console.log(overallHelp([LIST]).includes("  list ")); // true
 * ```
 */
export function overallHelp(commands: readonly CommandSpec[]): string {
  const rows: [string, string][] = commands.map((c) => [c.name, c.brief]);
  rows.push(["help", "a command's flags, examples and environment: help COMMAND"]);
  return [
    `denozoo ${VERSION}: pretrained ResNets for Deno`,
    "Usage: denozoo [--verbose] COMMAND [operands] [flags]\n" +
    "       (from a checkout: deno run -A cli.ts COMMAND …)",
    `Commands:\n${twoColumns(rows)}`,
    `Global flags (before or after the command):\n${
      twoColumns(GLOBAL_FLAGS.map((f) => [flagTerm(f), f.meaning]))
    }`,
    wrap(
      "Run `denozoo help COMMAND` or `denozoo COMMAND --help` for a command's flags, their " +
        "defaults, examples and the environment variables it reads.",
      WIDTH,
      0,
    ),
  ].join("\n\n");
}
