/**
 * `info ID`: a registry entry in full, as JSON; an architecture's name shows its default
 * weights.
 *
 * @example
 * ```ts
 * import { info, INFO } from "./info.ts";
 * import { parseCommand } from "./args.ts";
 * info(parseCommand(INFO, ["cifar_resnet20.cifar10"]));
 * // { "id": "cifar_resnet20.cifar10", "architecture": "cifar_resnet20", … }
 * ```
 *
 * @module
 */

import type { Args, CommandSpec } from "./flags.ts";
import { findWeights } from "../hub/registry.ts";
import { registryLocation } from "../pipelines/resolve.ts";

/**
 * `info` on the command line: operands and examples.
 *
 * @example
 * ```ts
 * import { INFO } from "./info.ts";
 * console.log(INFO.operands.name); // ID
 * ```
 */
export const INFO = {
  name: "info",
  brief: "one registry entry in full",
  summary: "Show a registry entry in full, as JSON: upstream URLs, checksum, source format, " +
    "preprocessing, labels, license, accuracy and notes.",
  operands: {
    name: "ID",
    meaning: "a registry id (see `list`), or an architecture for its default weights",
    min: 1,
    max: 1,
  },
  flags: [],
  examples: [
    "denozoo info resnet50.tv2_in1k",
    "denozoo info resnet50             # the default weights of resnet50",
  ],
  env: [],
} as const satisfies CommandSpec;

/**
 * Runs `info`.
 *
 * @example
 * ```ts
 * import { parseCommand } from "./args.ts";
 * try {
 *   info(parseCommand(INFO, ["resnet50.tv3_in1k"]));
 * } catch (error) {
 *   console.log((error as Error).message); // unknown weights 'resnet50.tv3_in1k'; did you mean resnet50.tv_in1k, …
 * }
 * ```
 */
export function info(args: Args<typeof INFO>): void {
  const [name] = args.operands;
  const entry = findWeights(registryLocation(name)?.id ?? name);
  if (entry.id !== name) console.error(`${name}: its default weights are ${entry.id}`);
  console.log(JSON.stringify(entry, null, 2));
}
