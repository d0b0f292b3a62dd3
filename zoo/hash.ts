/**
 * Digests of weight files, streamed through `node:crypto` in 1 MiB chunks so a large file
 * never sits in memory whole: on this thread ({@link hashFile}) or in a worker
 * ({@link hashFileInWorker}), which leaves this thread free while a 100 MB file is hashed
 * (about 75 ms of SHA-256 here).
 *
 * @example
 * ```ts
 * import { hashFile } from "./hash.ts";
 * console.log(await hashFile("models/cifar_resnet20.safetensors", "sha256"));
 * ```
 *
 * @module
 */

import { createHash } from "node:crypto";

/** The digests the registry publishes. */
export type HashAlgorithm = "sha256" | "md5";

/** A file's digest and how many bytes it covers. */
export interface FileDigest {
  /** Lower-case hex digest. */
  hex: string;
  /** Bytes hashed: the file's length when it was read. */
  bytes: number;
}

const HASH_CHUNK_BYTES = 1 << 20;

/**
 * Hex digest of a file and its length, read in 1 MiB chunks. (WebCrypto digests only whole
 * buffers and has no MD5, so this uses `node:crypto`.)
 *
 * @example
 * ```ts
 * const { hex, bytes } = await digestFile("resnet20-12fca82f.th", "sha256");
 * ```
 */
export async function digestFile(path: string, algorithm: HashAlgorithm): Promise<FileDigest> {
  const hash = createHash(algorithm);
  using file = await Deno.open(path, { read: true });
  const buffer = new Uint8Array(HASH_CHUNK_BYTES);
  let bytes = 0;
  for (let n = await file.read(buffer); n !== null; n = await file.read(buffer)) {
    hash.update(buffer.subarray(0, n));
    bytes += n;
  }
  return { hex: hash.digest("hex"), bytes };
}

/**
 * Hex digest of a file, read in 1 MiB chunks.
 *
 * @example
 * ```ts
 * console.log(await hashFile("resnet20-12fca82f.th", "sha256")); // "12fca82f0beb…"
 * ```
 */
export async function hashFile(path: string, algorithm: HashAlgorithm): Promise<string> {
  return (await digestFile(path, algorithm)).hex;
}

/**
 * {@link digestFile} in a worker, so that this thread goes on (reading and converting the
 * same file, say) while a second core hashes. Where the worker cannot start (no read access to
 * its module), it hashes on this thread instead.
 *
 * @example
 * ```ts
 * const hashing = hashFileInWorker("resnet50.onnx", "sha256");
 * // …read and convert the file meanwhile…
 * console.log((await hashing).hex);
 * ```
 */
export function hashFileInWorker(path: string, algorithm: HashAlgorithm): Promise<FileDigest> {
  const module = new URL("./hash_worker.ts", import.meta.url);
  // A local worker module needs read access to itself; without it, hash here (quietly: a
  // worker that fails to load prints its error even when it is handled).
  const readable = module.protocol !== "file:" ||
    Deno.permissions.querySync({ name: "read", path: module }).state === "granted";
  if (!readable) return digestFile(path, algorithm);
  const worker = new Worker(module, { type: "module" });
  return new Promise<FileDigest>((resolve, reject) => {
    worker.onmessage = (event: MessageEvent<FileDigest | { error: string }>) => {
      worker.terminate();
      if ("error" in event.data) reject(new Error(event.data.error));
      else resolve(event.data);
    };
    worker.onerror = (event) => {
      // The worker did not start or threw outside its handler: hash here instead.
      event.preventDefault();
      worker.terminate();
      digestFile(path, algorithm).then(resolve, reject);
    };
    worker.postMessage({ path, algorithm });
  });
}
