/**
 * Every file the cache keeps for a registry entry, and what the `cache` command does with them:
 * list, verify, remove. Under `cacheDir()`:
 *
 * - `downloads/<file>`: the upstream file, verified against the registry's hash (`cache.ts`),
 *   with its `.verified` memo and, while downloading, `.part` and `.lock`;
 * - `models/<id>.safetensors`: the zoo file converted from it;
 * - `models/<id>.safetensors.nchw.onnx` and `….onnx.data`: that zoo file's ONNX export, which
 *   onnxruntime opens.
 *
 * @example
 * ```ts
 * import { findWeights } from "./registry.ts";
 * import { cachedFiles } from "./cache_files.ts";
 * Deno.env.set("DENOZOO_HOME", "/data/zoo");
 * const files = cachedFiles(findWeights("cifar_resnet20.cifar10"));
 * console.log(files.converted); // /data/zoo/models/cifar_resnet20.cifar10.safetensors
 * Deno.env.delete("DENOZOO_HOME");
 * ```
 *
 * @module
 */

import { withPath } from "../formats/files.ts";
import { cacheDir, cachedPath, type CacheState, inspectCached } from "./cache.ts";
import { REGISTRY, type WeightsEntry } from "./registry.ts";

/**
 * The paths of everything the cache may hold for one entry.
 *
 * @example
 * ```ts
 * import { findWeights } from "./registry.ts";
 * import { cachedFiles, type CachedFiles } from "./cache_files.ts";
 * const files: CachedFiles = cachedFiles(findWeights("cifar_resnet20.cifar10"));
 * console.log(files.onnx.endsWith(".safetensors.nchw.onnx")); // true
 * ```
 */
export interface CachedFiles {
  /** The verified upstream file. */
  download: string;
  /** The zoo file converted from it. */
  converted: string;
  /** The converted file's ONNX export (its weights are in the same path plus `.data`). */
  onnx: string;
}

/**
 * The ONNX export kept beside a zoo file; its weights are in the same path plus `.data`.
 *
 * @example
 * ```ts
 * import { onnxExportPath } from "./cache_files.ts";
 * console.log(onnxExportPath("m.safetensors")); // m.safetensors.nchw.onnx
 * ```
 */
export function onnxExportPath(zooFile: string): string {
  return `${zooFile}.nchw.onnx`;
}

/**
 * Where the cache keeps an entry's files.
 *
 * @example
 * ```ts
 * import { findWeights } from "./registry.ts";
 * import { cachedFiles } from "./cache_files.ts";
 * console.log(cachedFiles(findWeights("resnet50.tv2_in1k")).download.endsWith("downloads/resnet50-11ad3fa6.pth")); // true
 * ```
 */
export function cachedFiles(entry: WeightsEntry): CachedFiles {
  const converted = `${cacheDir()}/models/${entry.id}.safetensors`;
  return { download: cachedPath(entry), converted, onnx: onnxExportPath(converted) };
}

/**
 * One entry with something in the cache.
 *
 * @example
 * ```ts
 * import { type CacheListing, listCache } from "./cache_files.ts";
 * Deno.env.set("DENOZOO_HOME", await Deno.makeTempDir());
 * const rows: CacheListing[] = await listCache();
 * console.log(rows.length); // 0
 * Deno.env.delete("DENOZOO_HOME");
 * ```
 */
export interface CacheListing {
  /** The registry entry. */
  entry: WeightsEntry;
  /** Its files that exist, with their sizes in bytes (`.data` counted with the ONNX export). */
  present: Partial<Record<keyof CachedFiles, number>>;
}

async function sizeOf(path: string): Promise<number | undefined> {
  try {
    return (await Deno.stat(path)).size;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/**
 * The entries that have any file in the cache, in registry order, with the sizes of those
 * files (a quantized variant's shared download counts under its float32 entry). Reads only
 * directory metadata (no hashing).
 *
 * @example
 * ```ts
 * import { findWeights } from "./registry.ts";
 * import { cachedPath } from "./cache.ts";
 * import { listCache } from "./cache_files.ts";
 * Deno.env.set("DENOZOO_HOME", await Deno.makeTempDir());
 * const download = cachedPath(findWeights("cifar_resnet20.cifar10"));
 * await Deno.mkdir(download.slice(0, download.lastIndexOf("/")), { recursive: true });
 * await Deno.copyFile("testdata/cifar10-resnet/resnet20-12fca82f.th", download);
 * const [row] = await listCache();
 * console.log(row.entry.id, row.present); // cifar_resnet20.cifar10 { download: 1099231 }
 * await Deno.remove(Deno.env.get("DENOZOO_HOME")!, { recursive: true });
 * Deno.env.delete("DENOZOO_HOME");
 * ```
 */
export async function listCache(): Promise<CacheListing[]> {
  const rows: CacheListing[] = [];
  for (const entry of REGISTRY) {
    const files = cachedFiles(entry);
    const present: CacheListing["present"] = {};
    // A quantized variant's download is its float32 entry's file, listed there.
    const download = entry.dtype ? undefined : await sizeOf(files.download);
    const converted = await sizeOf(files.converted);
    const onnx = await sizeOf(files.onnx);
    if (download !== undefined) present.download = download;
    if (converted !== undefined) present.converted = converted;
    if (onnx !== undefined) present.onnx = onnx + (await sizeOf(`${files.onnx}.data`) ?? 0);
    if (Object.keys(present).length > 0) rows.push({ entry, present });
  }
  return rows;
}

/**
 * The verdict on one entry's download, for `cache verify`.
 *
 * @example
 * ```ts
 * import { findWeights } from "./registry.ts";
 * import { verifyDownload } from "./cache_files.ts";
 * Deno.env.set("DENOZOO_HOME", await Deno.makeTempDir());
 * const line = await verifyDownload(findWeights("cifar_resnet20.cifar10"));
 * console.log(line.state); // missing
 * Deno.env.delete("DENOZOO_HOME");
 * ```
 */
export async function verifyDownload(
  entry: WeightsEntry,
): Promise<{ state: CacheState; message: string }> {
  const check = await inspectCached(entry);
  const message = check.state === "ok"
    ? `${entry.id}: ok (${check.path})`
    : check.state === "missing"
    ? `${entry.id}: missing (${check.path})`
    : `${entry.id}: corrupt, ${check.problem}; delete ${check.path} ` +
      `(\`denozoo cache remove ${entry.id}\`) and pull it again`;
  return { state: check.state, message };
}

/**
 * Removes every file the cache holds for an entry (download and its sidecars, converted zoo
 * file, ONNX export); a file that is not there is skipped. A `.lock` held by a running
 * download is left alone, and so is a quantized variant's download, which its float32 entry
 * shares.
 *
 * @returns The paths removed.
 *
 * @example
 * ```ts
 * import { findWeights } from "./registry.ts";
 * import { cachedPath } from "./cache.ts";
 * import { removeCached } from "./cache_files.ts";
 * Deno.env.set("DENOZOO_HOME", await Deno.makeTempDir());
 * const entry = findWeights("cifar_resnet20.cifar10");
 * await Deno.mkdir(`${Deno.env.get("DENOZOO_HOME")}/downloads`);
 * await Deno.copyFile("testdata/cifar10-resnet/resnet20-12fca82f.th", cachedPath(entry));
 * console.log((await removeCached(entry)).length); // 1
 * await Deno.remove(Deno.env.get("DENOZOO_HOME")!, { recursive: true });
 * Deno.env.delete("DENOZOO_HOME");
 * ```
 */
export async function removeCached(entry: WeightsEntry): Promise<string[]> {
  const files = cachedFiles(entry);
  // A quantized variant shares its download with its float32 entry, which keeps it.
  const download = entry.dtype
    ? []
    : [files.download, `${files.download}.verified`, `${files.download}.part`];
  const candidates = [
    ...download,
    files.converted,
    files.onnx,
    `${files.onnx}.data`,
  ];
  const removed: string[] = [];
  for (const path of candidates) {
    try {
      await Deno.remove(path);
      removed.push(path);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw withPath(error, path);
    }
  }
  return removed;
}
