/**
 * The wasm preflight of a network run from its own graph: a zoo ResNet's activation peak is
 * estimated from its plan, a foreign graph's cannot be, so it is measured. The first time a
 * graph meets an input shape on the wasm backend, one image of that shape runs under
 * `tf.profile`; a batch whose measured peak would pass the budget is then refused with the
 * {@link BatchTooLargeError} zoo models throw, before it runs. Without this, a failed allocation
 * in a wasm worker thread (`--threads` above 1) leaves the main thread waiting forever.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { useBackend } from "../runtime/backend.ts";
 * import { wasmPreflight } from "./wasm_preflight.ts";
 * await useBackend("wasm");
 * const filter = tf.ones<tf.Rank.R4>([3, 3, 3, 8]);
 * const predict = (x: tf.Tensor) => tf.relu(tf.conv2d(x as tf.Tensor4D, filter, 1, "same"));
 * const check = wasmPreflight("conv", predict, { layout: "nhwc", batch: null });
 * await check([64, 32, 32, 3]); // fits: nothing happens
 * await check([64, 32, 32, 3], 2 ** 20).catch((e) => console.log(e.maxBatch)); // 13
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import type { Tensor } from "../runtime/tensor.ts";
import { checkActivationBudget, WASM_ACTIVATION_BUDGET } from "../runtime/input_check.ts";

/**
 * What the preflight needs of a graph's declared input.
 *
 * @example
 * ```ts
 * import type { PreflightInput } from "./wasm_preflight.ts";
 * const input: PreflightInput = { layout: "nchw", batch: 2 };
 * console.log(input.batch); // 2
 * ```
 */
export interface PreflightInput {
  /** Where a 4-D input keeps its height and width (other ranks have neither). */
  layout: "nchw" | "nhwc";
  /**
   * The batch the graph declares, when it fixes one: such a graph runs no other, so the
   * measurement runs that batch and divides by it. `null` for a free batch.
   */
  batch: number | null;
}

/**
 * A graph's preflight: resolves when a batch of `shape` (in the graph's own layout) may run,
 * rejects with a {@link BatchTooLargeError} naming the largest that fits when its activations
 * would pass `budget` (default {@link WASM_ACTIVATION_BUDGET}). Off the wasm backend it
 * resolves at once, measuring nothing.
 *
 * @example
 * ```ts
 * import type { BatchCheck } from "./wasm_preflight.ts";
 * const check: BatchCheck = () => Promise.resolve();
 * await check([1, 3, 32, 32]);
 * ```
 */
export type BatchCheck = (shape: readonly number[], budget?: number) => Promise<void>;

/**
 * The preflight of the graph that `predict` runs, named `model` in refusals. Each input shape
 * (all dimensions but the batch) is measured once and remembered: the measurement is one extra
 * forward pass of one image (of the declared batch, for a graph that fixes it), which costs
 * about what that image costs in a batch, plus compiling the graph for that shape once more.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { useBackend } from "../runtime/backend.ts";
 * await useBackend("wasm");
 * const kernel = tf.ones<tf.Rank.R2>([100, 1000]);
 * const check = wasmPreflight("dense", (x) => tf.matMul(x as tf.Tensor2D, kernel), {
 *   layout: "nhwc",
 *   batch: null,
 * });
 * await check([10_000, 100], 2 ** 20).catch((e) => console.log(e.message));
 * // dense: a batch of 10000 inputs of 100 would run the wasm backend out of memory (42.0 MiB of activations at its peak; its heap ends at 4 GiB): use batches of at most 238
 * ```
 */
export function wasmPreflight(
  model: string,
  predict: (x: Tensor) => Tensor,
  input: PreflightInput,
): BatchCheck {
  const perItem = new Map<string, number>();
  return async (shape, budget = WASM_ACTIVATION_BUDGET) => {
    if (tf.getBackend() !== "wasm") return;
    const dims = shape.slice(1);
    const key = dims.join("×");
    let bytes = perItem.get(key);
    if (bytes === undefined) {
      bytes = await peakBytesPerItem(predict, [input.batch ?? 1, ...dims]);
      perItem.set(key, bytes);
    }
    checkActivationBudget(model, shape[0], describeItem(dims, input.layout), bytes, budget);
  };
}

/**
 * The bytes one item of a batch holds at the peak of a run, measured on a batch of zeros of
 * `shape`. `tf.profile` works on the wasm backend in tfjs 4.22: its `peakBytes` is the largest
 * `tf.memory().numBytes` after any kernel, counted by tfjs-core's engine for every backend, so
 * it includes the weights and whatever else was alive before, which are subtracted here. So are
 * the bytes still held after the run (constants the graph folds and caches per shape), which a
 * larger batch does not multiply. What it cannot see is scratch memory a kernel allocates inside
 * the wasm heap and frees before it returns (XNNPACK's packed weights are the weights', and its
 * indirection buffers are small), which the budget's margin to the 4 GiB heap is for.
 */
async function peakBytesPerItem(
  predict: (x: Tensor) => Tensor,
  shape: readonly number[],
): Promise<number> {
  const before = tf.memory().numBytes;
  const profile = await tf.profile(() => {
    tf.tidy(() => void predict(tf.zeros([...shape])));
    return [];
  });
  const kept = tf.memory().numBytes - before;
  // A graph of no kernels (an Identity) holds its input at least.
  const input = 4 * shape.reduce((a, b) => a * b, 1);
  const peak = Math.max(profile.peakBytes - before - kept, input);
  return Math.ceil(peak / shape[0]);
}

/** One item of a batch in words: an image's height and width, else all its dimensions. */
function describeItem(dims: readonly number[], layout: "nchw" | "nhwc"): string {
  if (dims.length !== 3) return `inputs of ${dims.join("×")}`;
  const [height, width] = layout === "nchw" ? dims.slice(1) : dims.slice(0, 2);
  return `images of ${height}×${width}`;
}
