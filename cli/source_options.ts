/**
 * What `convert`, `predict` and `classify` share about reading a foreign weights file: the
 * `--shortcut` choice for what a weights-only file cannot tell, and how what the file could not
 * tell is shown (one `warning:` line each on stderr, so that piped results stay clean).
 *
 * @example
 * ```ts
 * import { parseArgv } from "./args.ts";
 * import { shortcutOption } from "./source_options.ts";
 * console.log(shortcutOption(parseArgv(["convert", "a.pth", "--shortcut", "avgpool-end"])));
 * // { shortcutSubsample: "avgpool", shortcutPad: "end" }
 * ```
 *
 * @module
 */

import { type Args, UsageError } from "./args.ts";
import { parseShortcut, SPEC_CHOICES } from "../arch/spec.ts";
import type { ShortcutChoice } from "../convert/structure.ts";

/** Every `--shortcut` value. */
const NAMES = SPEC_CHOICES.shortcutSubsample.flatMap((s) =>
  SPEC_CHOICES.shortcutPad.map((p) => `${s}-${p}`)
);

/**
 * `--shortcut slice-both|slice-end|avgpool-both|avgpool-end`: how the option-A shortcuts of a
 * weights-only file subsample and pad. Undefined when not given.
 *
 * @example
 * ```ts
 * import { parseArgv } from "./args.ts";
 * console.log(shortcutOption(parseArgv(["predict"]))); // undefined
 * ```
 */
export function shortcutOption(args: Args): ShortcutChoice | undefined {
  const value = (args as Record<string, unknown>).shortcut;
  if (value === undefined) return undefined;
  const choice = typeof value === "string" ? parseShortcut(value) : undefined;
  if (!choice) {
    throw new UsageError(`--shortcut must be one of ${NAMES.join(", ")}, got '${String(value)}'`);
  }
  return choice;
}

/**
 * Prints each line as a `warning:` on stderr.
 *
 * @example
 * ```ts
 * printWarnings(["the file records no strides"]); // (stderr) warning: the file records no strides
 * ```
 */
export function printWarnings(lines: readonly string[] | undefined): void {
  for (const line of lines ?? []) console.error(`warning: ${line}`);
}
