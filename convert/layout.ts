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

import type { Weight } from "../zoo/weights.ts";
import { type NamedTensor, ZooFormatError } from "./types.ts";
import { alignedFloat32View } from "./safetensors.ts";

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
  if (littleEndian.length !== count * 4) {
    throw new Error(`expected ${count} float32 elements for shape [${source.shape}]`);
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

/**
 * Generic axis permutation of a row-major float32 tensor. A reader's tensor is read where it
 * lies in the file's bytes (see `elementsOf`), so no decoded copy of it is ever made.
 *
 * @example
 * ```ts
 * const t = transpose({ shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) }, [1, 0]);
 * console.log(Array.from(t.data)); // [1, 4, 2, 5, 3, 6]
 * ```
 */
export function transpose(source: Float32Source, perm: number[]): Weight {
  const rank = source.shape.length;
  if (perm.length !== rank) {
    throw new Error(`permutation [${perm}] does not fit shape [${source.shape}]`);
  }
  // Pad to rank 4 at the front so one loop nest serves every tensor here.
  const pad = 4 - rank;
  const inShape = [...new Array<number>(pad).fill(1), ...source.shape];
  const fullPerm = [...Array.from({ length: pad }, (_, i) => i), ...perm.map((p) => p + pad)];
  const inStrides = [inShape[1] * inShape[2] * inShape[3], inShape[2] * inShape[3], inShape[3], 1];
  const n = fullPerm.map((p) => inShape[p]);
  const s = fullPerm.map((p) => inStrides[p]);
  const o = [n[1] * n[2] * n[3], n[2] * n[3], n[3], 1];
  const count = n[0] * o[0];
  const elements = elementsOf(source, count);
  if (elements.length !== count) {
    throw new Error(`expected ${count} elements for shape [${source.shape}]`);
  }
  const data = new Float32Array(count);
  // Output axis `j` reads the input's most contiguous axis (ignoring axes of length 1, as in a
  // 1×1 kernel). Walking output axes j and 3 in 32×32 tiles keeps both the reads and the
  // writes within cache lines (OIHW ⇄ HWIO of a large kernel is otherwise a stride-(I·O)
  // gather). Strides are copied to locals so the JIT keeps them in registers.
  const j = [0, 1, 2].reduce((best, axis) =>
    n[axis] > 1 && (n[best] === 1 || s[axis] < s[best]) ? axis : best
  );
  const [x, y] = [0, 1, 2].filter((axis) => axis !== j);
  const [nx, ny, nj, nd] = [n[x], n[y], n[j], n[3]];
  const [sx, sy, sj, sd] = [s[x], s[y], s[j], s[3]];
  const [ox, oy, oj] = [o[x], o[y], o[j]];
  const tile = 32;
  for (let a = 0; a < nx; a++) {
    for (let b = 0; b < ny; b++) {
      const inBase = a * sx + b * sy;
      const outBase = a * ox + b * oy;
      for (let j0 = 0; j0 < nj; j0 += tile) {
        const j1 = Math.min(j0 + tile, nj);
        for (let d0 = 0; d0 < nd; d0 += tile) {
          const d1 = Math.min(d0 + tile, nd);
          for (let jj = j0; jj < j1; jj++) {
            let read = inBase + jj * sj + d0 * sd;
            let write = outBase + jj * oj + d0;
            for (let d = d0; d < d1; d++, read += sd) data[write++] = elements[read];
          }
        }
      }
    }
  }
  return { shape: perm.map((p) => source.shape[p]), data };
}

/**
 * PyTorch/ONNX convolution kernel `[out, in, kh, kw]` → zoo `[kh, kw, in, out]`.
 *
 * @example
 * ```ts
 * console.log(oihwToHwio({ shape: [8, 3, 7, 7], data: new Float32Array(8 * 3 * 49) }).shape); // [7, 7, 3, 8]
 * ```
 */
export function oihwToHwio(weight: Float32Source): Weight {
  return transpose(weight, [2, 3, 1, 0]);
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
 * Linear/Gemm weight `[out, in]` → dense kernel `[in, out]` (and back: it is its own inverse).
 *
 * @example
 * ```ts
 * console.log(linearToDense({ shape: [10, 64], data: new Float32Array(640) }).shape); // [64, 10]
 * ```
 */
export function linearToDense(weight: Float32Source): Weight {
  return transpose(weight, [1, 0]);
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
