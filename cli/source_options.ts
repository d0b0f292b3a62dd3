/**
 * What `convert`, `predict` and `classify` share about reading a foreign weights file: the
 * `--shortcut` flag for what a weights-only file cannot tell, and how what the file could not
 * tell is shown (one `warning:` line each on stderr, so that piped results stay clean).
 *
 * @example
 * ```ts
 * import { shortcutChoice, SHORTCUT_FLAG } from "./source_options.ts";
 * console.log(SHORTCUT_FLAG.name, shortcutChoice("avgpool-end"));
 * // shortcut { shortcutSubsample: "avgpool", shortcutPad: "end" }
 * ```
 *
 * @module
 */

import { parseShortcut } from "../arch/spec.ts";
import type { ShortcutChoice } from "../convert/structure.ts";
import type { FlagSpec } from "./flags.ts";

/**
 * `--shortcut`: how the option-A shortcuts of a weights-only file subsample and pad.
 *
 * @example
 * ```ts
 * import { SHORTCUT_FLAG } from "./source_options.ts";
 * console.log(SHORTCUT_FLAG.choices); // [ "slice-both", "slice-end", "avgpool-both", "avgpool-end" ]
 * ```
 */
export const SHORTCUT_FLAG = {
  name: "shortcut",
  kind: "string",
  value: "NAME",
  choices: ["slice-both", "slice-end", "avgpool-both", "avgpool-end"],
  defaultText: "what the file's graph shows; for a state dict, slice-both, with a warning",
  meaning: "how a state dict's option-A shortcuts (no weights, so the file cannot tell) " +
    "subsample, x[:, :, ::2, ::2] (slice; also MaxPool2d(1, 2)) or avg_pool2d(x, 2) (avgpool), " +
    "and where they put their zero channels: half before and half after (both), or after (end)",
} as const satisfies FlagSpec;

/**
 * The option-A variant a `--shortcut` value names; undefined when the flag is not given.
 *
 * @example
 * ```ts
 * console.log(shortcutChoice(undefined)); // undefined
 * ```
 */
export function shortcutChoice(value: string | undefined): ShortcutChoice | undefined {
  return value === undefined ? undefined : parseShortcut(value);
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
