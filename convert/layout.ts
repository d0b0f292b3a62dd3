/**
 * Every layout change between frameworks lives here: PyTorch/ONNX OIHW kernels to the
 * zoo's HWIO, `[out, in]` Linear/Gemm weights to `[in, out]`, NCHW ⇄ NHWC feature
 * orders, and BatchNorm folding and unfolding.
 *
 * @example
 * ```ts
 * import { oihwToHwio } from "./layout.ts";
 * const hwio = oihwToHwio({ shape: [2, 1, 1, 1], data: new Float32Array([1, 2]) });
 * console.log(hwio.shape); // [1, 1, 1, 2]
 * ```
 *
 * @module
 */

import type { Weight } from "../arch/weights.ts";
import type { NamedTensor } from "../formats/tensor.ts";
import { ZooFormatError } from "../arch/errors.ts";
import { alignedFloat32View } from "../formats/raw.ts";

/**
 * Any tensor as float32 data (int64 via Number, for the rare integer weight).
 *
 * @example
 * ```ts
 * const w = toWeight({ name: "x", shape: [2], dtype: "float32", data: new Float32Array([1, 2]) }, "f.pth");
 * console.log(w.data); // Float32Array [1, 2]
 * ```
 */
export function toWeight(tensor: NamedTensor, file: string): Weight {
  const size = tensor.shape.reduce((a, b) => a * b, 1);
  if (tensor.data.length !== size) {
    throw new ZooFormatError(
      file,
      `tensor '${tensor.name}' has ${tensor.data.length} elements, shape [${tensor.shape}] needs ${size}`,
    );
  }
  const data = tensor.data instanceof Float32Array
    ? tensor.data
    : Float32Array.from(tensor.data as ArrayLike<number | bigint>, Number);
  return { shape: [...tensor.shape], data };
}

/**
 * What a layout change reads: a float32 weight, or a float32 tensor from a reader, whose
 * elements may still lie undecoded in its file's bytes (see {@link NamedTensor.littleEndian}).
 */
export type Float32Source = Weight | NamedTensor;

/**
 * An aligned buffer reused for unaligned file bytes. Held weakly: it lives through one
 * synchronous import (a WeakRef's target survives the current job) and is freed after.
 */
let scratch: WeakRef<Float32Array> | undefined;

/**
 * A source's elements as a Float32Array, without a fresh copy where possible: a reader's bytes
 * are viewed in place when 4-aligned, else copied into the reused scratch buffer (whose pages
 * are already mapped, unlike a new 100 MB of copies); the rare integer weight is converted.
 * The result is only read, and only until the next call.
 */
function elementsOf(source: Float32Source, count: number): Float32Array {
  const littleEndian = "littleEndian" in source ? source.littleEndian : undefined;
  if (!littleEndian) {
    return source.data instanceof Float32Array
      ? source.data
      : Float32Array.from(source.data as ArrayLike<number | bigint>, Number);
  }
  const view = alignedFloat32View({ littleEndian });
  if (view) return view;
  let buffer = scratch?.deref();
  if (!buffer || buffer.length < count) {
    buffer = new Float32Array(count);
    scratch = new WeakRef(buffer);
  }
  new Uint8Array(buffer.buffer, 0, littleEndian.length).set(littleEndian);
  return buffer.subarray(0, count);
}

/** How many float32 elements a source holds, without decoding it. */
function lengthOf(source: Float32Source): number {
  const littleEndian = "littleEndian" in source ? source.littleEndian : undefined;
  return littleEndian ? littleEndian.length / 4 : source.data.length;
}

/** The shape a permutation gives a source, after checking that the two fit. */
function permutedShape(source: Float32Source, perm: number[]): number[] {
  const rank = source.shape.length;
  if (rank > 4 || perm.length !== rank || perm.some((p, i) => perm.indexOf(p) !== i || p >= rank)) {
    throw new Error(`permutation [${perm}] does not fit shape [${source.shape}]`);
  }
  const count = source.shape.reduce((a, b) => a * b, 1);
  if (lengthOf(source) !== count) {
    throw new Error(`expected ${count} float32 elements for shape [${source.shape}]`);
  }
  return perm.map((p) => source.shape[p]);
}

/** Elements of the output's last axis that `transposeInto` writes in one contiguous run. */
const BLOCK = 128;

/**
 * The inner loop of `transposeInto`, a function of its own so that V8 optimises it whole
 * (as one loop in the caller it was compiled on-stack and deoptimised on every exit): for each
 * row, `target[outStart + d] = elements[inStart + d·stride]` for d in [d0, d1), four rows at a
 * time (so there are a multiple of four).
 */
function copyRows(
  target: Float32Array,
  elements: Float32Array,
  inStart: Int32Array,
  outStart: Int32Array,
  d0: number,
  d1: number,
  stride: number,
): void {
  const first = d0 * stride;
  for (let row = 0; row < inStart.length; row += 4) {
    let r0 = inStart[row] + first, r1 = inStart[row + 1] + first;
    let r2 = inStart[row + 2] + first, r3 = inStart[row + 3] + first;
    const w0 = outStart[row], w1 = outStart[row + 1];
    const w2 = outStart[row + 2], w3 = outStart[row + 3];
    for (let d = d0; d < d1; d++, r0 += stride, r1 += stride, r2 += stride, r3 += stride) {
      target[w0 + d] = elements[r0];
      target[w1 + d] = elements[r1];
      target[w2 + d] = elements[r2];
      target[w3 + d] = elements[r3];
    }
  }
}

/**
 * Generic axis permutation of a row-major float32 tensor (rank ≤ 4) into `target`, which
 * needs at least as many elements. A reader's tensor is read where it lies in the file's bytes
 * (see `elementsOf`), so no decoded copy of it is ever made.
 *
 * @returns `target`.
 *
 * @example
 * ```ts
 * const target = new Float32Array(6);
 * transposeInto({ shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) }, [1, 0], target);
 * console.log(Array.from(target)); // [1, 4, 2, 5, 3, 6]
 * ```
 */
export function transposeInto(
  source: Float32Source,
  perm: number[],
  target: Float32Array,
): Float32Array {
  permutedShape(source, perm);
  const rank = source.shape.length;
  // Pad to rank 4 at the front so one loop nest serves every tensor here.
  const pad = 4 - rank;
  const inShape = [...new Array<number>(pad).fill(1), ...source.shape];
  const fullPerm = [...Array.from({ length: pad }, (_, i) => i), ...perm.map((p) => p + pad)];
  const inStrides = [inShape[1] * inShape[2] * inShape[3], inShape[2] * inShape[3], inShape[3], 1];
  const n = fullPerm.map((p) => inShape[p]);
  const s = fullPerm.map((p) => inStrides[p]);
  const o = [n[1] * n[2] * n[3], n[2] * n[3], n[3], 1];
  const count = n[0] * o[0];
  if (target.length < count) {
    throw new RangeError(`a target of ${target.length} elements cannot hold ${count}`);
  }
  const elements = elementsOf(source, count);
  // The output's last axis `d` is written in blocks of BLOCK contiguous elements, one "row"
  // (a position on the other three output axes) at a time, rows taken in the input's order.
  // For OIHW → HWIO the rows are the (i, kh, kw) of each kernel: consecutive rows read
  // neighbouring input elements of each of BLOCK output channels, and each row writes BLOCK
  // contiguous outputs, so every cache line is used whole; 2× faster than 32×32 tiles here.
  const [x, y, z] = [0, 1, 2].sort((p, q) => s[q] - s[p]);
  const rows = n[0] * n[1] * n[2];
  // Rounded up to whole groups of four by repeating the last row, which writes the same
  // values twice: `copyRows` then needs no remainder loop (a loop that runs rarely deopts V8's
  // optimised code each time it first runs, for want of type feedback).
  const inStart = new Int32Array(Math.ceil(rows / 4) * 4);
  const outStart = new Int32Array(inStart.length);
  let row = 0;
  for (let a = 0; a < n[x]; a++) {
    for (let b = 0; b < n[y]; b++) {
      for (let c = 0; c < n[z]; c++, row++) {
        inStart[row] = a * s[x] + b * s[y] + c * s[z];
        outStart[row] = a * o[x] + b * o[y] + c * o[z];
      }
    }
  }
  inStart.fill(inStart[rows - 1], rows);
  outStart.fill(outStart[rows - 1], rows);
  for (let d0 = 0; d0 < n[3]; d0 += BLOCK) {
    copyRows(target, elements, inStart, outStart, d0, Math.min(d0 + BLOCK, n[3]), s[3]);
  }
  return target;
}

/**
 * Generic axis permutation of a row-major float32 tensor (rank ≤ 4), into a new array.
 *
 * @example
 * ```ts
 * const t = transpose({ shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) }, [1, 0]);
 * console.log(Array.from(t.data)); // [1, 4, 2, 5, 3, 6]
 * ```
 */
export function transpose(source: Float32Source, perm: number[]): Weight {
  const shape = permutedShape(source, perm);
  const count = shape.reduce((a, b) => a * b, 1);
  return { shape, data: transposeInto(source, perm, new Float32Array(count)) };
}

/**
 * {@link transpose}, deferred: the weight's elements are computed on the first read of `data`.
 * Until then its `writeInto` permutes them straight into a caller's buffer, which is how a
 * converted file is written (`safetensorsChunks`): each kernel passes through one reused
 * buffer on its way to the disk, and no 100 MB of transposed copies is ever allocated. The
 * weight keeps its source (the file's bytes) alive until `data` is first read.
 *
 * @example
 * ```ts
 * const w = deferTranspose({ shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) }, [1, 0]);
 * console.log(w.shape); // [3, 2], nothing computed yet
 * console.log(Array.from(w.data)); // [1, 4, 2, 5, 3, 6]
 * ```
 */
export function deferTranspose(source: Float32Source, perm: number[]): Weight {
  const shape = permutedShape(source, perm);
  const count = shape.reduce((a, b) => a * b, 1);
  // Dropped once the data is computed, so the source (a whole file's bytes) can be freed.
  let from: Float32Source | undefined = source;
  let data: Float32Array | undefined;
  return {
    shape,
    get data(): Float32Array {
      if (!data) {
        data = transposeInto(from!, perm, new Float32Array(count));
        from = undefined;
      }
      return data;
    },
    writeInto(target: Float32Array): void {
      if (data) target.set(data);
      else transposeInto(from!, perm, target);
    },
  };
}

/**
 * PyTorch/ONNX convolution kernel `[out, in, kh, kw]` → zoo `[kh, kw, in, out]`, deferred
 * until first read (see {@link deferTranspose}).
 *
 * @example
 * ```ts
 * console.log(oihwToHwio({ shape: [8, 3, 7, 7], data: new Float32Array(8 * 3 * 49) }).shape); // [7, 7, 3, 8]
 * ```
 */
export function oihwToHwio(weight: Float32Source): Weight {
  return deferTranspose(weight, [2, 3, 1, 0]);
}

/**
 * PyTorch/ONNX 1-D convolution kernel `[out, in, taps]` → zoo (Keras Conv1D) `[taps, in, out]`,
 * deferred until first read (see {@link deferTranspose}).
 *
 * @example
 * ```ts
 * console.log(oiwToWio({ shape: [1, 1, 5], data: new Float32Array(5) }).shape); // [5, 1, 1]
 * ```
 */
export function oiwToWio(weight: Float32Source): Weight {
  return deferTranspose(weight, [2, 1, 0]);
}

/**
 * Zoo kernel `[kh, kw, in, out]` → PyTorch/ONNX `[out, in, kh, kw]`.
 *
 * @example
 * ```ts
 * console.log(hwioToOihw({ shape: [7, 7, 3, 8], data: new Float32Array(8 * 3 * 49) }).shape); // [8, 3, 7, 7]
 * ```
 */
export function hwioToOihw(weight: Weight): Weight {
  return transpose(weight, [3, 2, 0, 1]);
}

/**
 * Linear/Gemm weight `[out, in]` → dense kernel `[in, out]` (and back: it is its own inverse),
 * deferred until first read (see {@link deferTranspose}).
 *
 * @example
 * ```ts
 * console.log(linearToDense({ shape: [10, 64], data: new Float32Array(640) }).shape); // [64, 10]
 * ```
 */
export function linearToDense(weight: Float32Source): Weight {
  return deferTranspose(weight, [1, 0]);
}

/**
 * Reorders the input rows of a dense kernel that follows a channels_first flatten
 * (features in C,H,W order) so that it reads a channels_last flatten (H,W,C order).
 *
 * @example
 * ```ts
 * const k = chwRowsToHwc({ shape: [8, 1], data: new Float32Array([0, 1, 2, 3, 4, 5, 6, 7]) }, 2, 2, 2);
 * console.log(Array.from(k.data)); // [0, 4, 1, 5, 2, 6, 3, 7]
 * ```
 */
export function chwRowsToHwc(
  kernel: Weight,
  channels: number,
  height: number,
  width: number,
): Weight {
  const [rows, units] = kernel.shape;
  if (rows !== channels * height * width) {
    throw new Error(`dense kernel has ${rows} rows, expected ${channels}×${height}×${width}`);
  }
  const reshaped = { shape: [channels, height, width, units], data: kernel.data };
  const hwc = transpose(reshaped, [1, 2, 0, 3]);
  return { shape: [rows, units], data: hwc.data };
}

/**
 * The parameters of a BatchNorm that passes `x + bias` through unchanged up to float32
 * rounding: how BN-folded sources (torch.onnx's default export) load into specs with BN.
 * The variance is 1 − ε so that `1/sqrt(var + ε)` is exactly 1 in float32.
 *
 * @example
 * ```ts
 * const bn = identityBatchNorm(new Float32Array([0.5]), 1e-5);
 * console.log(bn.gamma[0], bn.beta[0]); // 1 0.5
 * ```
 */
export function identityBatchNorm(
  bias: Float32Array,
  epsilon: number,
): { gamma: Float32Array; beta: Float32Array; mean: Float32Array; variance: Float32Array } {
  const n = bias.length;
  return {
    gamma: new Float32Array(n).fill(1),
    beta: bias.slice(),
    mean: new Float32Array(n),
    variance: new Float32Array(n).fill(1 - epsilon),
  };
}
