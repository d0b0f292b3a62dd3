/**
 * Decoding beside inference: image files decoded to model inputs by a pool of workers, ahead of
 * the batch being classified. onnxruntime's `run` holds the JavaScript thread for the whole
 * forward pass, so decoding on that thread waits for it; in workers it goes on meanwhile, on
 * whatever the inference leaves of the cores. At most `ahead` decoded inputs exist at once
 * (model-sized, about 150 KB each at 224×224), so memory stays flat however many files come.
 *
 * @example
 * ```ts
 * import { TORCHVISION_V1 } from "../arch/preprocess.ts";
 * import { decodeAhead } from "./decode_pool.ts";
 * for await (const item of decodeAhead(["testdata/images/cat.jpg", "missing.jpg"], TORCHVISION_V1)) {
 *   console.log(item.path, "image" in item ? item.image.width : "failed");
 * }
 * // testdata/images/cat.jpg 224
 * // missing.jpg failed
 * ```
 *
 * @module
 */

import type { PreprocessSpec } from "../arch/preprocess.ts";
import type { RgbImage } from "./rgb_image.ts";

/** What the pool asks a worker: decode `path` for `spec`; `id` pairs the reply. */
export interface DecodeRequest {
  /** The request's number. */
  id: number;
  /** The image file. */
  path: string;
  /** The weights' preprocessing (its geometry and interpolation are used). */
  spec: PreprocessSpec;
}

/** A worker's reply: the model input, or the failure's message. */
export type DecodeReply = { id: number; image: RgbImage } | { id: number; error: string };

/**
 * One decoded file: the model input (see `decodeForModel`), or why there is none.
 *
 * @example
 * ```ts
 * import type { DecodedInput } from "./decode_pool.ts";
 * const failed: DecodedInput = { path: "x.jpg", error: "x.jpg: empty file, expected an image" };
 * console.log("error" in failed); // true
 * ```
 */
export type DecodedInput = { path: string; image: RgbImage } | { path: string; error: string };

/**
 * Options of {@link decodeAhead}.
 *
 * @example
 * ```ts
 * import type { DecodeAheadOptions } from "./decode_pool.ts";
 * const options: DecodeAheadOptions = { workers: 1, ahead: 32 };
 * console.log(options.ahead); // 32
 * ```
 */
export interface DecodeAheadOptions {
  /** Decoding workers (default 1: on two cores, inference keeps the other busy). */
  workers?: number;
  /** Files decoded ahead of the one being consumed, at most (default 32). */
  ahead?: number;
}

/**
 * Decodes image files to model inputs in workers, yielding one entry per path in input order;
 * up to `ahead` files are being decoded or wait decoded while the consumer works. A file that
 * cannot be read or decoded yields its error (`ZooFormatError`'s message, naming the file), and
 * the others go on. The workers end with the iteration, also when the consumer stops early.
 *
 * @param paths Image files.
 * @param spec The weights' preprocessing: each file is decoded to its input size.
 * @param options Workers and look-ahead.
 * @returns The decoded inputs, in the order of `paths`.
 *
 * @example
 * ```ts
 * import { CIFAR10_TORCH } from "../arch/preprocess.ts";
 * const files = ["testdata/images/cat.jpg", "testdata/images/fish-bike.jpg"];
 * for await (const item of decodeAhead(files, CIFAR10_TORCH, { ahead: 2 })) {
 *   if ("image" in item) console.log(item.image.width, item.image.height); // 32 32
 * }
 * ```
 */
export async function* decodeAhead(
  paths: readonly string[],
  spec: PreprocessSpec,
  options: DecodeAheadOptions = {},
): AsyncGenerator<DecodedInput> {
  const count = Math.max(1, Math.min(options.workers ?? 1, paths.length));
  const ahead = Math.max(1, options.ahead ?? 32);
  const workers = Array.from(
    { length: count },
    () => new Worker(new URL("./decode_worker.ts", import.meta.url), { type: "module" }),
  );
  // Each request's promise settles from its reply, or fails with the first worker error. (Not
  // a race against one long-lived promise: each race would leave it a reaction holding that
  // reply, and so every decoded image, until the end.)
  const waiting = new Map<number, { resolve(reply: DecodeReply): void; reject(e: Error): void }>();
  let failure: Error | undefined;
  for (const worker of workers) {
    worker.onmessage = ({ data }: MessageEvent<DecodeReply>) => {
      waiting.get(data.id)?.resolve(data);
      waiting.delete(data.id);
    };
    worker.onerror = (event) => {
      event.preventDefault();
      failure ??= new Error(`image decoding worker failed: ${event.message}`);
      for (const { reject } of waiting.values()) reject(failure);
      waiting.clear();
    };
  }
  const pending: Promise<DecodeReply>[] = [];
  let next = 0;
  const dispatch = () => {
    const id = next++;
    const reply = new Promise<DecodeReply>((resolve, reject) => {
      if (failure) return reject(failure);
      waiting.set(id, { resolve, reject });
      const request: DecodeRequest = { id, path: paths[id], spec };
      workers[id % count].postMessage(request);
    });
    // A failure is thrown where the reply is awaited; the ones never awaited stay quiet.
    reply.catch(() => {});
    pending.push(reply);
  };
  try {
    for (let i = 0; i < paths.length; i++) {
      while (next < paths.length && pending.length < ahead) dispatch();
      const reply = await pending.shift()!;
      yield "image" in reply
        ? { path: paths[i], image: reply.image }
        : { path: paths[i], error: reply.error };
    }
  } finally {
    for (const worker of workers) worker.terminate();
  }
}
