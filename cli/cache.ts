/**
 * `cache list|verify|remove [ID…] [--all] [--json]`: what the download cache holds, whether
 * its downloads still hash right, and removing an entry's files (see `hub/cache_files.ts`).
 *
 * @example
 * ```ts
 * import { cache, CACHE } from "./cache.ts";
 * import { parseCommand } from "./args.ts";
 * Deno.env.set("DENOZOO_HOME", await Deno.makeTempDir());
 * await cache(parseCommand(CACHE, ["list"]));
 * // cache <DENOZOO_HOME>: empty
 * ```
 *
 * @module
 */

import { UsageError } from "./args.ts";
import { type Args, CACHE_ENVIRONMENT, type CommandSpec, JSON_FLAG } from "./flags.ts";
import { cacheDir } from "../hub/cache.ts";
import { listCache, removeCached, verifyDownload } from "../hub/cache_files.ts";
import { findWeights, type WeightsEntry } from "../hub/registry.ts";
import { registryLocation } from "../pipelines/resolve.ts";
import { didYouMean } from "../arch/suggest.ts";

const ACTIONS = ["list", "verify", "remove"];

/**
 * `cache` on the command line: operands, flags, examples, environment.
 *
 * @example
 * ```ts
 * import { CACHE } from "./cache.ts";
 * console.log(CACHE.operands.name); // ACTION [ID…]
 * ```
 */
export const CACHE = {
  name: "cache",
  brief: "list, verify or remove what the cache holds",
  summary: "Look after the download cache: list what it holds per registry id (the download, " +
    "the converted zoo file, its ONNX export), verify the downloads' checksums, or remove an " +
    "entry's files.",
  operands: {
    name: "ACTION [ID…]",
    meaning: "list; verify [ID…] (every download when no id is given; exit 1 if any is " +
      "corrupt); remove ID… (or --all). An architecture's name means its default weights",
    min: 1,
    max: Infinity,
  },
  flags: [
    { name: "all", kind: "boolean", meaning: "with remove: remove every entry's files" },
    { ...JSON_FLAG, meaning: "with list: print the rows as a JSON array" },
  ],
  examples: [
    "denozoo cache list",
    "denozoo cache verify                 # hash every download; names the file to delete",
    "denozoo cache remove resnet50.tv2_in1k",
  ],
  env: CACHE_ENVIRONMENT,
} as const satisfies CommandSpec;

/** The registry entries that ids (or architectures) name, refusing unknown ones. */
function entriesOf(names: readonly string[]): WeightsEntry[] {
  return names.map((name) => {
    return findWeights(registryLocation(name)?.id ?? name);
  });
}

/** Bytes for people: `1.0 MB`. */
function size(bytes: number | undefined): string {
  return bytes === undefined ? "-" : `${(bytes / 1e6).toFixed(1)} MB`;
}

/**
 * Runs `cache`.
 *
 * @example
 * ```ts
 * import { parseCommand } from "./args.ts";
 * try {
 *   await cache(parseCommand(CACHE, ["purge"]));
 * } catch (error) {
 *   console.log((error as Error).message); // cache takes list, verify or remove, got 'purge'
 * }
 * ```
 */
export async function cache(args: Args<typeof CACHE>): Promise<void> {
  const [action, ...names] = args.operands;
  if (!ACTIONS.includes(action)) {
    throw new UsageError(
      `cache takes list, verify or remove, got '${action}'${didYouMean(action, ACTIONS)}`,
    );
  }
  if (args.all && action !== "remove") throw new UsageError("--all goes with cache remove");
  if (args.json && action !== "list") throw new UsageError("--json goes with cache list");
  if (action === "list") {
    if (names.length > 0) throw new UsageError(`cache list takes no ids, got '${names[0]}'`);
    await listAction(args.json);
  } else if (action === "verify") {
    await verifyAction(names);
  } else {
    if ((names.length > 0) === args.all) {
      throw new UsageError("cache remove needs the ids to remove, or --all");
    }
    const entries = args.all ? (await listCache()).map((row) => row.entry) : entriesOf(names);
    for (const entry of entries) {
      const removed = await removeCached(entry);
      console.log(
        `${entry.id}: ${removed.length ? `removed ${removed.join(", ")}` : "not cached"}`,
      );
    }
  }
}

async function listAction(json: boolean): Promise<void> {
  const rows = await listCache();
  if (json) {
    console.log(JSON.stringify(
      rows.map(({ entry, present }) => ({ id: entry.id, ...present })),
      null,
      2,
    ));
    return;
  }
  if (rows.length === 0) {
    console.log(`cache ${cacheDir()}: empty`);
    return;
  }
  const cells = rows.map(({ entry, present }) => [
    entry.id,
    size(present.download),
    size(present.converted),
    size(present.onnx),
  ]);
  const header = ["id", "download", "converted", "onnx export"];
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => c.map((v, i) => v.padEnd(widths[i])).join("  ").trimEnd();
  console.log(`cache ${cacheDir()}:`);
  console.log([line(header), ...cells.map(line)].join("\n"));
}

async function verifyAction(names: readonly string[]): Promise<void> {
  const entries = names.length > 0
    ? entriesOf(names)
    : (await listCache()).filter((row) => row.present.download !== undefined).map((r) => r.entry);
  if (entries.length === 0) {
    console.log(`cache ${cacheDir()}: no downloads to verify`);
    return;
  }
  let corrupt = 0;
  for (const entry of entries) {
    const verdict = await verifyDownload(entry);
    console.log(verdict.message);
    if (verdict.state === "corrupt") corrupt++;
  }
  if (corrupt > 0) {
    throw new Error(
      `${corrupt} of ${entries.length} downloads in the cache ${
        corrupt === 1 ? "is" : "are"
      } corrupt`,
    );
  }
}
