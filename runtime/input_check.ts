/**
 * What a model's input must look like, said in words: a 4-D batch whose channels sit on the
 * axis the layout puts them. tfjs's own messages for a wrong rank or layout (`Index out of
 * range`, `depth of input (64) must match input depth for filter 3`) do not say which axis is
 * wrong or what to do, so a batch is checked before it runs.
 *
 * @example
 * ```ts
 * import { inputMismatch } from "./input_check.ts";
 * console.log(inputMismatch([8, 3, 32, 32], "nhwc", 3));
 * // expected a batch [batch, height, width, channels] with 3 channels last, got shape [8,3,32,32]: it looks NCHW (3 channels on axis 1); pass it as NCHW
 * ```
 *
 * @module
 */

/** Where a batch keeps its channels: `nhwc` (channels last) or `nchw` (channels first). */
export type InputLayout = "nhwc" | "nchw";

/**
 * Why a batch of this shape cannot feed a model that takes `channels` channels in `layout`, or
 * `undefined` when it can. `channels` may be unknown (a graph that does not declare it): then
 * only the rank is checked. `fix(layout)` words the remedy when the batch looks like the other
 * layout (`--input-layout nchw`, or `dataFormat: "channels_first"`), which the caller knows and
 * this does not.
 *
 * @example
 * ```ts
 * console.log(inputMismatch([32, 32, 3], "nhwc", 3));
 * // expected a 4-D batch [batch, height, width, channels], got shape [32,32,3] (3-D): add a batch axis
 * console.log(inputMismatch([1, 32, 32, 3], "nhwc", 3)); // undefined
 * ```
 */
export function inputMismatch(
  shape: readonly number[],
  layout: InputLayout,
  channels: number | undefined,
  fix: (layout: InputLayout) => string = (other) => `pass it as ${other.toUpperCase()}`,
): string | undefined {
  const axes = layout === "nhwc"
    ? "[batch, height, width, channels]"
    : "[batch, channels, height, width]";
  if (shape.length !== 4) {
    const hint = shape.length === 3 ? ": add a batch axis" : "";
    return `expected a 4-D batch ${axes}, got shape [${shape}] (${shape.length}-D)${hint}`;
  }
  if (channels === undefined) return undefined;
  const axis = layout === "nhwc" ? 3 : 1;
  if (shape[axis] === channels) return undefined;
  const where = layout === "nhwc" ? "last" : "on axis 1";
  const other = layout === "nhwc" ? "nchw" : "nhwc";
  const otherAxis = layout === "nhwc" ? 1 : 3;
  const looks = shape[otherAxis] === channels
    ? `: it looks ${other.toUpperCase()} (${channels} channels on axis ${otherAxis}); ${fix(other)}`
    : "";
  return `expected a batch ${axes} with ${channels} channels ${where}, got shape [${shape}]${looks}`;
}

/**
 * Whether an error is the wasm backend (or the process) running out of memory: a failed
 * allocation surfaces in tfjs-wasm as `memory access out of bounds` (the null pointer
 * `malloc` returned is written to), in Emscripten as `OOM`/`Cannot enlarge memory`, and in V8
 * as a failed array buffer allocation.
 *
 * @example
 * ```ts
 * console.log(isOutOfMemory(new WebAssembly.RuntimeError("memory access out of bounds"))); // true
 * console.log(isOutOfMemory(new Error("Index out of range"))); // false
 * ```
 */
export function isOutOfMemory(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return /memory access out of bounds|Cannot enlarge memory|\bOOM\b|out of memory|allocation failed|could not allocate memory/i
    .test(message);
}

/**
 * The bytes of activations a batch may hold at once on the wasm backend: its heap ends at
 * 4 GiB, which the weights and the allocator share. A zoo model's peak is estimated
 * (`InferenceGraph.peakBytesPerImage`; measured peaks run up to 1.7 times the estimate, with
 * grouped convolutions and GroupNorm), a graph's measured on one image (see `wasm_preflight.ts`).
 */
export const WASM_ACTIVATION_BUDGET = 2 * 2 ** 30;

/**
 * Refuses a batch of `batch` items that each hold `perItem` bytes at the peak when together
 * they exceed `budget`, naming the largest batch that fits. `item` says what one item is
 * (`images of 224×224`). The one check behind zoo models and graphs on wasm.
 *
 * @throws {BatchTooLargeError} When `batch × perItem` exceeds `budget`.
 *
 * @example
 * ```ts
 * import { BatchTooLargeError, checkActivationBudget } from "./input_check.ts";
 * checkActivationBudget("net", 8, "images of 32×32", 2 ** 20); // fits: nothing happens
 * try {
 *   checkActivationBudget("net", 8, "images of 32×32", 2 ** 20, 3 * 2 ** 20);
 * } catch (error) {
 *   console.log((error as BatchTooLargeError).maxBatch); // 3
 * }
 * ```
 */
export function checkActivationBudget(
  model: string,
  batch: number,
  item: string,
  perItem: number,
  budget: number = WASM_ACTIVATION_BUDGET,
): void {
  if (batch * perItem <= budget) return;
  const maxBatch = Math.max(1, Math.floor(budget / perItem));
  throw new BatchTooLargeError(model, batch, item, batch * perItem, maxBatch);
}

/**
 * A batch too large to run on the wasm backend, refused before it runs: once its heap is
 * exhausted, tfjs-wasm fails with `memory access out of bounds`, or with several threads waits
 * forever for the thread that failed.
 *
 * @example
 * ```ts
 * const error = new BatchTooLargeError("cifar_resnet56", 100_000, "images of 32×32", 8e9, 38_000);
 * console.log(error.maxBatch); // 38000
 * ```
 */
export class BatchTooLargeError extends RangeError {
  /** The largest batch of such items that fits. */
  readonly maxBatch: number;

  /**
   * A batch of `batch` items, each what `item` says (`images of 224×224`, `inputs of 8×20`),
   * that needs `bytes` at its peak.
   */
  constructor(model: string, batch: number, item: string, bytes: number, maxBatch: number) {
    // A lowered budget (in tests) refuses batches of megabytes, which GiB would round to 0.0.
    const size = bytes >= 2 ** 30
      ? `${(bytes / 2 ** 30).toFixed(1)} GiB`
      : `${(bytes / 2 ** 20).toFixed(1)} MiB`;
    super(
      `${model}: a batch of ${batch} ${item} would run the wasm backend out of memory ` +
        `(${size} of activations at its peak; its heap ends at 4 GiB): ` +
        `use batches of at most ${maxBatch}`,
    );
    this.name = "BatchTooLargeError";
    this.maxBatch = maxBatch;
  }
}
