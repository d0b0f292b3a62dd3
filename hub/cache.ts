/**
 * The download cache for pretrained weights: {@link fetchWeights} returns the path of a
 * verified local copy of a registry entry's file, downloading it when needed.
 *
 * - Layout: `<cacheDir()>/downloads/<file>`, with `<file>.part` while downloading, a
 *   `<file>.lock` held by the downloading process and a `<file>.verified` sidecar that memoises
 *   the hash check by mtime and size.
 * - Downloads resume (`download.ts`): an existing `.part` is continued with `Range: bytes=N-`; a
 *   server that ignores the Range (200) restarts it; a dropped connection is retried from the
 *   bytes received.
 * - Nothing reaches the final name before its hash matches; a mismatch deletes the partial file.
 * - Concurrent fetches of one file (in one process or several) serialise on the lock file; the
 *   later ones reuse the finished file. A lock whose process is gone or whose heartbeat stopped
 *   is taken over.
 * - Environment: `DENOZOO_HOME` (cache root), `DENOZOO_OFFLINE=1` (never touch the network),
 *   `DENOZOO_MIRROR=URL` (fetch `URL/<upstream host>/<upstream path>` instead of upstream).
 *
 * Needs `--allow-net --allow-read --allow-write --allow-env`.
 *
 * @example
 * ```ts
 * import { findWeights } from "./registry.ts";
 * import { fetchWeights, verifyCached } from "./cache.ts";
 *
 * // An empty cache, and a mirror that serves the real CIFAR-10 ResNet-20 checkpoint.
 * const home = await Deno.makeTempDir();
 * const checkpoint = await Deno.readFile("testdata/cifar10-resnet/resnet20-12fca82f.th");
 * const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () =>
 *   new Response(checkpoint));
 * Deno.env.set("DENOZOO_HOME", home);
 * Deno.env.set("DENOZOO_MIRROR", `http://127.0.0.1:${server.addr.port}`);
 *
 * const entry = findWeights("cifar_resnet20.cifar10");
 * console.log(await verifyCached(entry)); // missing
 * const path = await fetchWeights(entry, { progress: true });
 * console.log(path === `${home}/downloads/resnet20-12fca82f.th`); // true
 * console.log(await verifyCached(entry)); // ok
 *
 * Deno.env.delete("DENOZOO_MIRROR");
 * Deno.env.delete("DENOZOO_HOME");
 * await server.shutdown();
 * await Deno.remove(home, { recursive: true });
 * ```
 *
 * @module
 */

import { writeAtomically } from "../formats/files.ts";
import { messageOf, ZooFormatError } from "../arch/errors.ts";
import { type DownloadProgress, resumeDownload, sleep, TransferMeter } from "./download.ts";
import { hashFile } from "./hash.ts";
import type { WeightsEntry, WeightsHash } from "./registry.ts";

/** Options of {@link fetchWeights}. */
export interface FetchWeightsOptions {
  /** Called with the transfer progress. */
  onProgress?: (progress: DownloadProgress) => void;
  /** Draw a progress bar on stderr; silent when stderr is not a terminal. */
  progress?: boolean;
  /** Cancels the download (or the wait for another process's download). */
  signal?: AbortSignal;
}

/** Result of {@link verifyCached}. */
export type CacheState = "ok" | "missing" | "corrupt";

/**
 * What {@link inspectCached} found of an entry's file in the cache.
 *
 * @example
 * ```ts
 * import { findWeights } from "./registry.ts";
 * import { type CacheCheck, inspectCached } from "./cache.ts";
 * Deno.env.set("DENOZOO_HOME", await Deno.makeTempDir());
 * const check: CacheCheck = await inspectCached(findWeights("cifar_resnet20.cifar10"));
 * console.log(check.state, check.problem); // missing undefined
 * Deno.env.delete("DENOZOO_HOME");
 * ```
 */
export interface CacheCheck {
  /** Whether the file is there and whole. */
  state: CacheState;
  /** Where the file is, or would be. */
  path: string;
  /** Its size in bytes, when it is there. */
  size?: number;
  /**
   * For a corrupt file, what was expected and what was found: `expected 1099231 bytes, got 18`,
   * or `expected sha256 starting 12fca82f, got sha256 3f…`.
   */
  problem?: string;
}

/** The lock holder refreshes the lock's mtime this often... */
const LOCK_HEARTBEAT_MS = 5_000;
/** ...so a lock untouched for this long belongs to a dead or hung process. */
const LOCK_STALE_MS = 30_000;
const LOCK_POLL_MS = 100;

/**
 * The cache root for an OS and environment: `DENOZOO_HOME`, else `%LOCALAPPDATA%\denozoo`
 * (Windows), `~/Library/Caches/denozoo` (macOS), `$XDG_CACHE_HOME/denozoo` or
 * `~/.cache/denozoo` (others). Pure, so every platform's rule can be tested anywhere.
 *
 * @example
 * ```ts
 * import { resolveCacheDir } from "./cache.ts";
 * const env: Record<string, string> = { HOME: "/home/ada", LOCALAPPDATA: "C:\\Users\\ada\\AppData\\Local" };
 * console.log(resolveCacheDir("linux", (name) => env[name])); // /home/ada/.cache/denozoo
 * console.log(resolveCacheDir("darwin", (name) => env[name])); // /home/ada/Library/Caches/denozoo
 * console.log(resolveCacheDir("windows", (name) => env[name])); // C:\Users\ada\AppData\Local\denozoo
 * ```
 */
export function resolveCacheDir(
  os: typeof Deno.build.os,
  getEnv: (name: string) => string | undefined,
): string {
  const explicit = getEnv("DENOZOO_HOME");
  if (explicit) return explicit;
  const fail = (what: string): never => {
    throw new Error(`cannot locate a cache directory (${what} is not set); set DENOZOO_HOME`);
  };
  if (os === "windows") {
    const profile = getEnv("USERPROFILE");
    const local = getEnv("LOCALAPPDATA") ??
      (profile ? `${profile}\\AppData\\Local` : fail("LOCALAPPDATA"));
    return `${local}\\denozoo`;
  }
  const home = getEnv("HOME");
  if (os === "darwin") return `${home ?? fail("HOME")}/Library/Caches/denozoo`;
  // The XDG spec says relative values are invalid and must be ignored.
  const xdg = getEnv("XDG_CACHE_HOME");
  if (xdg?.startsWith("/")) return `${xdg}/denozoo`;
  return `${home ?? fail("HOME")}/.cache/denozoo`;
}

/**
 * The cache root of this process (see {@link resolveCacheDir}).
 *
 * @example
 * ```ts
 * import { cacheDir } from "./cache.ts";
 * Deno.env.set("DENOZOO_HOME", "/data/zoo");
 * console.log(cacheDir()); // /data/zoo
 * Deno.env.delete("DENOZOO_HOME");
 * ```
 */
export function cacheDir(): string {
  return resolveCacheDir(Deno.build.os, (name) => Deno.env.get(name));
}

const SEPARATOR = Deno.build.os === "windows" ? "\\" : "/";

/**
 * The cache file name of an entry: the last path segment of its canonical URL.
 *
 * @example
 * ```ts
 * import { findWeights } from "./registry.ts";
 * import { weightsFileName } from "./cache.ts";
 * console.log(weightsFileName(findWeights("resnet50.tv2_in1k"))); // resnet50-11ad3fa6.pth
 * ```
 */
export function weightsFileName(entry: WeightsEntry): string {
  const url = entry.urls[0];
  if (!url) throw new ZooFormatError(entry.id, "registry entry has no URL");
  const name = decodeURIComponent(new URL(url).pathname.split("/").pop() ?? "");
  if (!name || name === "." || name === ".." || /[\\/:]/.test(name)) {
    throw new ZooFormatError(url, `URL does not end in a usable file name ('${name}')`);
  }
  return name;
}

/**
 * Where an entry's verified file lives (or would live) in the cache. Dropping the upstream file
 * there by hand works offline.
 *
 * @example
 * ```ts
 * import { findWeights } from "./registry.ts";
 * import { cachedPath } from "./cache.ts";
 * console.log(cachedPath(findWeights("cifar_resnet20.cifar10")));
 * // ~/.cache/denozoo/downloads/resnet20-12fca82f.th on Linux without DENOZOO_HOME
 * ```
 */
export function cachedPath(entry: WeightsEntry): string {
  return [cacheDir(), "downloads", weightsFileName(entry)].join(SEPARATOR);
}

/**
 * Maps an upstream URL onto a mirror: `<mirror>/<upstream host>/<upstream path>`.
 *
 * @example
 * ```ts
 * import { mirrorUrl } from "./cache.ts";
 * console.log(mirrorUrl("https://download.pytorch.org/models/resnet18-f37072fd.pth", "http://m:8000/"));
 * // http://m:8000/download.pytorch.org/models/resnet18-f37072fd.pth
 * ```
 */
export function mirrorUrl(upstream: string, mirror: string): string {
  const url = new URL(upstream);
  return `${mirror.replace(/\/+$/, "")}/${url.host}${url.pathname}${url.search}`;
}

function digestAlgorithm(hash: WeightsHash): "sha256" | "md5" {
  return hash.algorithm === "md5" ? "md5" : "sha256";
}

function hashMatches(expected: WeightsHash, hex: string): boolean {
  const value = expected.value.toLowerCase();
  return expected.algorithm === "sha256-prefix" ? hex.startsWith(value) : hex === value;
}

function describeHash(hash: WeightsHash): string {
  return hash.algorithm === "sha256-prefix"
    ? `sha256 starting ${hash.value}`
    : `${hash.algorithm} ${hash.value}`;
}

function isNotFound(error: unknown): boolean {
  return error instanceof Deno.errors.NotFound;
}

async function removeIfExists(path: string): Promise<void> {
  try {
    await Deno.remove(path);
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
}

/** What `<file>.verified` records: the file's identity when its hash last matched. */
interface VerifiedRecord {
  size: number;
  mtimeMs: number;
  algorithm: string;
  value: string;
}

async function writeVerified(path: string, hash: WeightsHash): Promise<void> {
  const info = await Deno.stat(path);
  const record: VerifiedRecord = {
    size: info.size,
    mtimeMs: info.mtime?.getTime() ?? 0,
    algorithm: hash.algorithm,
    value: hash.value,
  };
  await writeAtomically(`${path}.verified`, new TextEncoder().encode(JSON.stringify(record)));
}

async function readVerified(path: string): Promise<VerifiedRecord | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(`${path}.verified`));
  } catch {
    // Missing or unreadable: the caller re-hashes.
    return undefined;
  }
}

async function checkFile(entry: WeightsEntry, path: string): Promise<CacheCheck> {
  try {
    const info = await Deno.stat(path);
    const size = info.size;
    const expectedSize = entry.metrics.fileSizeBytes;
    if (expectedSize !== undefined && size !== expectedSize) {
      return {
        state: "corrupt",
        path,
        size,
        problem: `expected ${expectedSize} bytes, got ${size}`,
      };
    }
    const memo = await readVerified(path);
    if (
      memo?.size === size && memo.mtimeMs === (info.mtime?.getTime() ?? 0) &&
      memo.algorithm === entry.hash.algorithm && memo.value === entry.hash.value
    ) return { state: "ok", path, size };
    const got = await hashFile(path, digestAlgorithm(entry.hash));
    if (!hashMatches(entry.hash, got)) {
      const problem = `expected ${describeHash(entry.hash)}, got ${
        digestAlgorithm(entry.hash)
      } ${got}`;
      return { state: "corrupt", path, size, problem };
    }
    await writeVerified(path, entry.hash);
    return { state: "ok", path, size };
  } catch (error) {
    // Deleted under us by another process's cleanup: the same as never there.
    if (isNotFound(error)) return { state: "missing", path };
    throw error;
  }
}

/**
 * Checks the cached copy of an entry without downloading or deleting anything: size (when the
 * registry knows it) and hash, the hash result memoised in `<file>.verified` by mtime + size.
 *
 * @example
 * ```ts
 * import { findWeights } from "./registry.ts";
 * import { cachedPath, verifyCached } from "./cache.ts";
 *
 * Deno.env.set("DENOZOO_HOME", await Deno.makeTempDir());
 * const entry = findWeights("cifar_resnet20.cifar10");
 * console.log(await verifyCached(entry)); // missing
 * await Deno.mkdir(`${Deno.env.get("DENOZOO_HOME")}/downloads`);
 * await Deno.writeTextFile(cachedPath(entry), "not the checkpoint");
 * console.log(await verifyCached(entry)); // corrupt
 * await Deno.copyFile("testdata/cifar10-resnet/resnet20-12fca82f.th", cachedPath(entry));
 * console.log(await verifyCached(entry)); // ok
 * await Deno.remove(Deno.env.get("DENOZOO_HOME")!, { recursive: true });
 * Deno.env.delete("DENOZOO_HOME");
 * ```
 */
export async function verifyCached(entry: WeightsEntry): Promise<CacheState> {
  return (await checkFile(entry, cachedPath(entry))).state;
}

/**
 * Like {@link verifyCached}, with the path, the size and, for a corrupt file, the expected and
 * the actual size or hash.
 *
 * @example
 * ```ts
 * import { findWeights } from "./registry.ts";
 * import { cachedPath, inspectCached } from "./cache.ts";
 * Deno.env.set("DENOZOO_HOME", await Deno.makeTempDir());
 * const entry = findWeights("cifar_resnet20.cifar10");
 * await Deno.mkdir(`${Deno.env.get("DENOZOO_HOME")}/downloads`);
 * await Deno.writeTextFile(cachedPath(entry), "not the checkpoint");
 * console.log((await inspectCached(entry)).problem); // expected 1099231 bytes, got 18
 * await Deno.remove(Deno.env.get("DENOZOO_HOME")!, { recursive: true });
 * Deno.env.delete("DENOZOO_HOME");
 * ```
 */
export async function inspectCached(entry: WeightsEntry): Promise<CacheCheck> {
  return await checkFile(entry, cachedPath(entry));
}

/**
 * What to do about a download that failed, for the end of its message: the two environment
 * variables that help when the network or upstream cannot be reached.
 */
function networkHint(path: string): string {
  return `; set DENOZOO_MIRROR=URL to download from a mirror, or DENOZOO_OFFLINE=1 to use ` +
    `only the cache, where this file belongs at ${path}`;
}

function offlineRequested(): boolean {
  const value = Deno.env.get("DENOZOO_OFFLINE")?.trim().toLowerCase();
  return value !== undefined && value !== "" && value !== "0" && value !== "false";
}

/** Contents of `<file>.lock`. */
interface LockOwner {
  pid: number;
  host?: string;
}

function hostnameIfAllowed(): string | undefined {
  // Deno.hostname() would prompt or throw without --allow-sys; the host only refines staleness.
  const state = Deno.permissions.querySync({ name: "sys", kind: "hostname" }).state;
  return state === "granted" ? Deno.hostname() : undefined;
}

async function lockIsStale(lockPath: string): Promise<boolean> {
  let owner: Partial<LockOwner>;
  try {
    const modified = (await Deno.stat(lockPath)).mtime?.getTime() ?? 0;
    if (Date.now() - modified > LOCK_STALE_MS) return true;
    owner = JSON.parse(await Deno.readTextFile(lockPath));
  } catch (error) {
    // Released meanwhile, or not yet written by its creator: retry or wait.
    if (isNotFound(error) || error instanceof SyntaxError) return false;
    throw error;
  }
  // A dead owner on this Linux host is stale at once, without waiting for the heartbeat to age.
  const sameHost = owner.host !== undefined && owner.host === hostnameIfAllowed();
  if (Deno.build.os === "linux" && sameHost && owner.pid !== Deno.pid) {
    try {
      await Deno.stat(`/proc/${owner.pid}`);
    } catch (error) {
      if (isNotFound(error)) return true;
    }
  }
  return false;
}

/** Takes `<file>.lock` exclusively, waiting for (or taking over from) another holder. */
async function acquireLock(lockPath: string, signal?: AbortSignal): Promise<() => Promise<void>> {
  const owner: LockOwner = { pid: Deno.pid, host: hostnameIfAllowed() };
  for (;;) {
    signal?.throwIfAborted();
    try {
      const file = await Deno.open(lockPath, { createNew: true, write: true });
      try {
        await file.write(new TextEncoder().encode(JSON.stringify(owner)));
      } finally {
        file.close();
      }
      const heartbeat = setInterval(() => {
        const now = new Date();
        Deno.utime(lockPath, now, now).catch(() => {});
      }, LOCK_HEARTBEAT_MS);
      return async () => {
        clearInterval(heartbeat);
        await removeIfExists(lockPath);
      };
    } catch (error) {
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
    }
    if (await lockIsStale(lockPath)) await removeIfExists(lockPath);
    else await sleep(LOCK_POLL_MS, signal);
  }
}

/** Downloads into `partPath` and checks the hash; a bad file is deleted before throwing. */
async function downloadVerified(
  entry: WeightsEntry,
  url: string,
  partPath: string,
  meter: TransferMeter,
  signal?: AbortSignal,
): Promise<void> {
  const resumed = await resumeDownload(url, partPath, meter, signal);
  const got = await hashFile(partPath, digestAlgorithm(entry.hash));
  if (hashMatches(entry.hash, got)) return;
  await removeIfExists(partPath);
  // A part left by an earlier run may come from other bytes (a changed mirror): start clean once.
  if (resumed) return downloadVerified(entry, url, partPath, meter, signal);
  throw new ZooFormatError(
    url,
    `checksum mismatch for ${weightsFileName(entry)} (${entry.id}): expected ` +
      `${describeHash(entry.hash)}, got ${digestAlgorithm(entry.hash)} ${got}; ` +
      `the download was deleted, fetch again to retry`,
  );
}

/**
 * Returns the path of a verified local copy of an entry's file, downloading it first when it is
 * missing or damaged. See the module docs for resuming, locking and environment variables.
 *
 * @example
 * ```ts
 * import { findWeights } from "./registry.ts";
 * import { cachedPath, fetchWeights } from "./cache.ts";
 *
 * // A file dropped into the cache by hand is verified and used, even offline.
 * const home = await Deno.makeTempDir();
 * Deno.env.set("DENOZOO_HOME", home);
 * Deno.env.set("DENOZOO_OFFLINE", "1");
 * const entry = findWeights("cifar_resnet20.cifar10");
 * await Deno.mkdir(`${home}/downloads`);
 * await Deno.copyFile("testdata/cifar10-resnet/resnet20-12fca82f.th", cachedPath(entry));
 * const path = await fetchWeights(entry, {
 *   onProgress: ({ received, total }) => console.log(received, total), // not called: no download
 * });
 * console.log(path === cachedPath(entry)); // true
 * Deno.env.delete("DENOZOO_OFFLINE");
 * Deno.env.delete("DENOZOO_HOME");
 * await Deno.remove(home, { recursive: true });
 * ```
 */
export async function fetchWeights(
  entry: WeightsEntry,
  options: FetchWeightsOptions = {},
): Promise<string> {
  const path = cachedPath(entry);
  const check = await checkFile(entry, path);
  if (check.state === "ok") return path;
  if (offlineRequested()) {
    const file = `${weightsFileName(entry)} (${entry.id})`;
    throw new Error(
      check.state === "missing"
        ? `DENOZOO_OFFLINE is set and ${file} is not in the cache; get it with ` +
          `\`denozoo pull ${entry.id}\` where the network is reachable, or download ` +
          `${entry.urls[0]} to ${path}`
        : `DENOZOO_OFFLINE is set and ${file} in the cache is corrupt (${check.problem}); ` +
          `delete ${path} (or run \`denozoo cache remove ${entry.id}\`) and pull it again`,
    );
  }
  const { signal } = options;
  await Deno.mkdir(path.slice(0, path.lastIndexOf(SEPARATOR)), { recursive: true });
  const release = await acquireLock(`${path}.lock`, signal);
  try {
    // Another process may have finished (or damaged) it while this one waited for the lock.
    const stateNow = (await checkFile(entry, path)).state;
    if (stateNow === "ok") return path;
    if (stateNow === "corrupt") {
      await removeIfExists(`${path}.verified`);
      await removeIfExists(path);
    }
    const mirror = Deno.env.get("DENOZOO_MIRROR");
    const meter = new TransferMeter(
      weightsFileName(entry),
      options.onProgress,
      options.progress === true,
    );
    const failures: unknown[] = [];
    for (const upstream of entry.urls) {
      const url = mirror ? mirrorUrl(upstream, mirror) : upstream;
      try {
        await downloadVerified(entry, url, `${path}.part`, meter, signal);
        await Deno.rename(`${path}.part`, path);
        await writeVerified(path, entry.hash);
        return path;
      } catch (error) {
        if (signal?.aborted) throw error;
        failures.push(error);
      }
    }
    // Bytes that do not hash right already say so; anything else is the network's or the host's.
    if (failures.length === 1 && failures[0] instanceof ZooFormatError) throw failures[0];
    const reached = failures.every((error) => error instanceof ZooFormatError);
    throw new Error(
      `could not download ${entry.id}: ${failures.map(messageOf).join("; ")}` +
        (reached ? "" : networkHint(path)),
      { cause: failures[0] },
    );
  } finally {
    await release();
  }
}
