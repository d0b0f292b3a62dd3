/**
 * `pull ID [--verify]`: downloads, verifies and converts a registry entry's weights into the
 * cache (see `pullWeights`); `--verify` first checks a cached download's hash.
 *
 * @example
 * ```ts
 * import { pull, PULL } from "./pull.ts";
 * import { parseCommand } from "./args.ts";
 * import { cachedPath } from "../hub/cache.ts";
 * import { findWeights } from "../hub/registry.ts";
 * Deno.env.set("DENOZOO_HOME", await Deno.makeTempDir());
 * // A file dropped into the cache is verified against the registry's hash, not downloaded.
 * const download = cachedPath(findWeights("cifar_resnet20.cifar10"));
 * await Deno.mkdir(download.slice(0, download.lastIndexOf("/")), { recursive: true });
 * await Deno.copyFile("testdata/cifar10-resnet/resnet20-12fca82f.th", download);
 * await pull(parseCommand(PULL, ["cifar_resnet20.cifar10", "--verify"]));
 * // cifar_resnet20.cifar10: ok
 * ```
 *
 * @module
 */

import { type Args, CACHE_ENVIRONMENT, type CommandSpec } from "./flags.ts";
import { pullWeights } from "../pipelines/pull.ts";
import { registryLocation } from "../pipelines/resolve.ts";
import { inspectCached } from "../hub/cache.ts";
import { findWeights } from "../hub/registry.ts";
import { readZooWeights } from "../convert/zoofile.ts";
import { readWholeFile } from "../formats/files.ts";

/**
 * `pull` on the command line: operands, flags, examples, environment.
 *
 * @example
 * ```ts
 * import { PULL } from "./pull.ts";
 * console.log(PULL.env.includes("DENOZOO_MIRROR")); // true
 * ```
 */
export const PULL = {
  name: "pull",
  brief: "download and convert registry weights into the cache",
  summary: "Download a registry entry's weights into the cache (resuming, verified against " +
    "the upstream checksum) and convert them once to the zoo's own file; later runs read the " +
    "cache, also offline. Even the bundled model's id downloads here.",
  operands: {
    name: "ID",
    meaning: "a registry id (see `list`), or an architecture for its default weights",
    min: 1,
    max: 1,
  },
  flags: [
    {
      name: "verify",
      kind: "boolean",
      meaning: "first check the hash of a download already in the cache, and say what it found",
    },
  ],
  examples: [
    "denozoo pull resnet50.tv2_in1k",
    "DENOZOO_MIRROR=http://mirror.local:8000 denozoo pull resnet50",
    "denozoo pull cifar_resnet20.cifar10 --verify",
  ],
  env: CACHE_ENVIRONMENT,
} as const satisfies CommandSpec;

/**
 * Runs `pull`.
 *
 * @example
 * ```ts
 * import { parseCommand } from "./args.ts";
 * import { cachedPath } from "../hub/cache.ts";
 * import { findWeights } from "../hub/registry.ts";
 * Deno.env.set("DENOZOO_HOME", await Deno.makeTempDir());
 * const download = cachedPath(findWeights("cifar_resnet20.cifar10"));
 * await Deno.mkdir(download.slice(0, download.lastIndexOf("/")), { recursive: true });
 * await Deno.copyFile("testdata/cifar10-resnet/resnet20-12fca82f.th", download);
 * await pull(parseCommand(PULL, ["cifar_resnet20.cifar10"]));
 * // cifar_resnet20.cifar10: <DENOZOO_HOME>/models/cifar_resnet20.cifar10.safetensors
 * ```
 */
export async function pull(args: Args<typeof PULL>): Promise<void> {
  const [name] = args.operands;
  const id = findWeights(registryLocation(name)?.id ?? name).id;
  if (id !== name) console.error(`${name}: its default weights are ${id}`);
  if (args.verify) {
    const check = await inspectCached(findWeights(id));
    console.log(`${id}: ${check.state}${check.problem ? ` (${check.problem})` : ""}`);
    if (check.state === "ok") return;
  }
  const path = await pullWeights(id, { progress: true });
  console.log(`${id}: ${path}`);
  readZooWeights(await readWholeFile(path), path);
}
