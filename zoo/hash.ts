/**
 * Digests of weight files through `node:crypto`: of a file, streamed in 1 MiB chunks so a large
 * file never sits in memory whole ({@link hashFile}), or of bytes handed over while they are
 * read, hashed in a worker ({@link hashInWorker}) so that this thread goes on converting.
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

const HASH_CHUNK_BYTES = 1 << 20;

/**
 * Hex digest of a file, read in 1 MiB chunks. (WebCrypto digests only whole buffers and has no
 * MD5, so this uses `node:crypto`.)
 *
 * @example
 * ```ts
 * console.log(await hashFile("resnet20-12fca82f.th", "sha256")); // "12fca82f0beb…"
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

/**
 * Pieces in flight between `hashInWorker`'s caller and its worker: enough that a reader seldom
 * waits for the hash (4 slots made `convert` slower here), 24 MiB in all.
 */
const RING_SLOTS = 12;
/** The largest piece `hashInWorker` takes at once: larger ones are handed over in parts. */
export const HASH_PIECE_BYTES = 2 << 20;

/** Indices into the shared control words of `hashInWorker` and its worker. */
export const HASH_CONTROL = { handed: 0, hashed: 1, done: 2 } as const;

/** A digest computed from bytes handed over in order, piece by piece. */
export interface PieceHasher {
  /** Hands over the next bytes; resolves once they are copied (the caller may then reuse them). */
  update(piece: Uint8Array): Promise<void>;
  /** The lower-case hex digest of every byte handed over. */
  digest(): Promise<string>;
  /** Stops, without a digest. */
  abort(): void;
}

/**
 * A {@link PieceHasher} whose hashing runs in a worker: this thread only copies each piece into
 * a shared ring, the worker hashes it (about 75 ms of SHA-256 for 100 MB here). Reading a file while handing its pieces over hashes it with no second
 * read. Where the worker cannot start (no read access to its module), it hashes on this
 * thread.
 *
 * @example
 * ```ts
 * const hasher = hashInWorker("sha256");
 * await hasher.update(new TextEncoder().encode("abc"));
 * console.log(await hasher.digest()); // "ba7816bf…"
 * ```
 */
export function hashInWorker(algorithm: HashAlgorithm): PieceHasher {
  const module = new URL("./hash_worker.ts", import.meta.url);
  // A local worker module needs read access to itself; without it, hash here (quietly: a
  // worker that fails to load prints its error even when it is handled).
  const readable = module.protocol !== "file:" ||
    Deno.permissions.querySync({ name: "read", path: module }).state === "granted";
  if (!readable) {
    const hash = createHash(algorithm);
    return {
      update: (piece) => Promise.resolve(void hash.update(piece)),
      digest: () => Promise.resolve(hash.digest("hex")),
      abort: () => {},
    };
  }
  const ring = new Uint8Array(new SharedArrayBuffer(RING_SLOTS * HASH_PIECE_BYTES));
  const lengths = new Int32Array(new SharedArrayBuffer(RING_SLOTS * 4));
  const control = new Int32Array(new SharedArrayBuffer(3 * 4));
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
  worker.postMessage({ algorithm, ring, lengths, control });
  let handed = 0;
  return {
    async update(piece: Uint8Array): Promise<void> {
      for (let at = 0; at < piece.length; at += HASH_PIECE_BYTES) {
        const part = piece.subarray(at, at + HASH_PIECE_BYTES);
        // Wait for the slot to be free: the worker hashed the piece it held.
        for (
          let hashed;
          handed - (hashed = Atomics.load(control, HASH_CONTROL.hashed)) >= RING_SLOTS;
        ) {
          await Atomics.waitAsync(control, HASH_CONTROL.hashed, hashed).value;
        }
        const slot = handed % RING_SLOTS;
        ring.set(part, slot * HASH_PIECE_BYTES);
        lengths[slot] = part.length;
        Atomics.store(control, HASH_CONTROL.handed, ++handed);
        Atomics.notify(control, HASH_CONTROL.handed);
      }
    },
    digest(): Promise<string> {
      Atomics.store(control, HASH_CONTROL.done, 1);
      Atomics.notify(control, HASH_CONTROL.handed);
      return result;
    },
    abort(): void {
      worker.terminate();
    },
  };
}
