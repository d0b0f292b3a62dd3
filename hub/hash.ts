/**
 * Digests of weight files through `node:crypto`: of a file, streamed in 1 MiB chunks so a large
 * file never sits in memory whole ({@link hashFile}), or of a buffer as a file is read into
 * it, hashed in a worker ({@link hashInWorker}) so that this thread goes on converting.
 *
 * @example
 * ```ts
 * import { hashFile } from "./hash.ts";
 * console.log(await hashFile("models/cifar_resnet20.safetensors", "sha256"));
 * // 2a62577a2899fcb255bb91264009f0370166ac131a1123fd9375e38ea57cf53b
 * ```
 *
 * @module
 */

import { createHash } from "node:crypto";

/** The digests the registry publishes. */
export type HashAlgorithm = "sha256" | "md5";

const HASH_CHUNK_BYTES = 1 << 20;

/**
 * Hex digest of bytes, on this thread. (`node:crypto`, unlike WebCrypto, also hashes a view of
 * a `SharedArrayBuffer`, as `readSource` returns.)
 *
 * @example
 * ```ts
 * import { hashBytes } from "./hash.ts";
 * console.log(hashBytes(new TextEncoder().encode("abc"), "md5")); // 900150983cd24fb0d6963f7d28e17f72
 * ```
 */
export function hashBytes(bytes: Uint8Array, algorithm: HashAlgorithm): string {
  return createHash(algorithm).update(bytes).digest("hex");
}

/**
 * Hex digest of a file, read in 1 MiB chunks. (WebCrypto digests only whole buffers and has no
 * MD5, so this uses `node:crypto`.)
 *
 * @example
 * ```ts
 * import { hashFile } from "./hash.ts";
 * // torch.hub names a file by the start of its SHA-256.
 * const hex = await hashFile("testdata/cifar10-resnet/resnet20-12fca82f.th", "sha256");
 * console.log(hex.startsWith("12fca82f")); // true
 * ```
 */
export async function hashFile(path: string, algorithm: HashAlgorithm): Promise<string> {
  const hash = createHash(algorithm);
  using file = await Deno.open(path, { read: true });
  const buffer = new Uint8Array(HASH_CHUNK_BYTES);
  for (let n = await file.read(buffer); n !== null; n = await file.read(buffer)) {
    hash.update(buffer.subarray(0, n));
  }
  return hash.digest("hex");
}

/** Indices into the shared control words of `hashInWorker` and its worker. */
export const HASH_CONTROL = { ready: 0, done: 1 } as const;

/** A digest of a buffer computed while the buffer fills. */
export interface GrowingHasher {
  /** The buffer's first `end` bytes are final: they may be hashed now. */
  ready(end: number): void;
  /**
   * The lower-case hex digest of `bytes`: of what was hashed as it became ready when `bytes`
   * is the buffer's first `end` bytes, else (a file that grew while it was read ends up in
   * another buffer), or should the worker fail, of `bytes` hashed here.
   */
  digest(bytes: Uint8Array): Promise<string>;
  /** Stops, without a digest. */
  abort(): void;
}

/**
 * A {@link GrowingHasher} of a buffer that a reader is filling from its start, hashed by a
 * worker that reads the buffer itself: a file read into a `SharedArrayBuffer` is hashed
 * without a copy or a second read, about 75 ms of SHA-256 per 100 MB here that this thread
 * never spends. A buffer that is not shared, or of 2 GiB or more, is hashed here by `digest`,
 * as it is where the worker cannot start (no read access to its module).
 *
 * @example
 * ```ts
 * import { hashInWorker } from "./hash.ts";
 * const bytes = new Uint8Array(new SharedArrayBuffer(3));
 * const hasher = hashInWorker(bytes, "sha256");
 * bytes.set(new TextEncoder().encode("abc"));
 * hasher.ready(3);
 * console.log(await hasher.digest(bytes)); // ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
 * ```
 */
export function hashInWorker(buffer: Uint8Array, algorithm: HashAlgorithm): GrowingHasher {
  const here: GrowingHasher = {
    ready: () => {},
    digest: (bytes) => Promise.resolve(hashBytes(bytes, algorithm)),
    abort: () => {},
  };
  const module = new URL("./hash_worker.ts", import.meta.url);
  // A local worker module needs read access to itself; without it, hash here (quietly: a
  // worker that fails to load prints its error even when it is handled).
  const readable = module.protocol !== "file:" ||
    Deno.permissions.querySync({ name: "read", path: module }).state === "granted";
  if (!readable || !(buffer.buffer instanceof SharedArrayBuffer) || buffer.length >= 2 ** 31) {
    return here;
  }
  const control = new Int32Array(new SharedArrayBuffer(2 * 4));
  const worker = new Worker(module, { type: "module" });
  const result = new Promise<string>((resolve, reject) => {
    worker.onmessage = (event: MessageEvent<{ hex: string } | { error: string }>) => {
      worker.terminate();
      if ("error" in event.data) reject(new Error(event.data.error));
      else resolve(event.data.hex);
    };
    worker.onerror = (event) => {
      event.preventDefault();
      worker.terminate();
      reject(new Error(`the hashing worker failed: ${event.message}`));
    };
  });
  // Awaited by `digest`; a hash abandoned after a failed read must not go unhandled.
  result.catch(() => {});
  worker.postMessage({ algorithm, bytes: buffer, control });
  return {
    ready(end: number): void {
      Atomics.store(control, HASH_CONTROL.ready, end);
      Atomics.notify(control, HASH_CONTROL.ready);
    },
    digest(bytes: Uint8Array): Promise<string> {
      const whole = bytes.buffer === buffer.buffer && bytes.byteOffset === buffer.byteOffset &&
        bytes.length === Atomics.load(control, HASH_CONTROL.ready);
      Atomics.store(control, HASH_CONTROL.done, 1);
      Atomics.notify(control, HASH_CONTROL.ready);
      if (whole) return result.catch(() => here.digest(bytes));
      worker.terminate();
      return here.digest(bytes);
    },
    abort(): void {
      worker.terminate();
    },
  };
}
