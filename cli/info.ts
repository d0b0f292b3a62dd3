/**
 * `info ID`: a registry entry in full, as JSON.
 *
 * @example
 * ```ts
 * import { info } from "./info.ts";
 * import { parseArgv } from "./args.ts";
 * info(parseArgv(["info", "cifar_resnet20.cifar10"]));
 * // { "id": "cifar_resnet20.cifar10", "architecture": "cifar_resnet20", … }
 * ```
 *
 * @module
 */

import { type Args, UsageError } from "./args.ts";
import { findWeights } from "../hub/registry.ts";

/**
 * Runs `info`.
 *
 * @example
 * ```ts
 * import { parseArgv, UsageError } from "./args.ts";
 * try {
 *   info(parseArgv(["info"]));
 * } catch (error) {
 *   console.log(error instanceof UsageError, (error as Error).message); // true info needs a weights id (see `list`)
 * }
 * ```
 */
export function info(args: Args): void {
  const id = String(args._[1] ?? "");
  if (!id) throw new UsageError("info needs a weights id (see `list`)");
  console.log(JSON.stringify(findWeights(id), null, 2));
}
