/**
 * `pull ID [--verify]`: downloads, verifies and converts a registry entry's weights into the
 * cache (see `pullWeights`); `--verify` first checks a cached download's hash.
 *
 * @example
 * ```ts
 * import { pull } from "./pull.ts";
 * import { parseArgv } from "./args.ts";
 * import { cachedPath } from "../hub/cache.ts";
 * import { findWeights } from "../hub/registry.ts";
 * Deno.env.set("DENOZOO_HOME", await Deno.makeTempDir());
 * // A file dropped into the cache is verified against the registry's hash, not downloaded.
 * const download = cachedPath(findWeights("cifar_resnet20.cifar10"));
 * await Deno.mkdir(download.slice(0, download.lastIndexOf("/")), { recursive: true });
 * await Deno.copyFile("testdata/cifar10-resnet/resnet20-12fca82f.th", download);
 * await pull(parseArgv(["pull", "cifar_resnet20.cifar10", "--verify"]));
 * // cifar_resnet20.cifar10: ok
 * ```
 *
 * @module
 */

import { type Args, UsageError } from "./args.ts";
import { pullWeights } from "../pipelines/pull.ts";
import { verifyCached } from "../hub/cache.ts";
import { findWeights } from "../hub/registry.ts";
import { readZooWeights } from "../convert/zoofile.ts";
import { readWholeFile } from "../formats/files.ts";

/**
 * Runs `pull`.
 *
 * @example
 * ```ts
 * import { parseArgv } from "./args.ts";
 * import { cachedPath } from "../hub/cache.ts";
 * import { findWeights } from "../hub/registry.ts";
 * Deno.env.set("DENOZOO_HOME", await Deno.makeTempDir());
 * const download = cachedPath(findWeights("cifar_resnet20.cifar10"));
 * await Deno.mkdir(download.slice(0, download.lastIndexOf("/")), { recursive: true });
 * await Deno.copyFile("testdata/cifar10-resnet/resnet20-12fca82f.th", download);
 * await pull(parseArgv(["pull", "cifar_resnet20.cifar10"]));
 * // cifar_resnet20.cifar10: <DENOZOO_HOME>/models/cifar_resnet20.cifar10.safetensors
 * ```
 */
export async function pull(args: Args): Promise<void> {
  const id = String(args._[1] ?? "");
  if (!id) throw new UsageError("pull needs a weights id (see `list`)");
  if (args.verify) {
    const state = await verifyCached(findWeights(id));
    console.log(`${id}: ${state}`);
    if (state === "ok") return;
  }
  const path = await pullWeights(id, { progress: true });
  console.log(`${id}: ${path}`);
  readZooWeights(await readWholeFile(path), path);
}
