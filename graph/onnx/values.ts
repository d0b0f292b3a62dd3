/**
 * What a value of an ONNX graph is while it is compiled: a constant on the host (initializers,
 * Constant nodes and folded shape computations), or a tensor the schedule computes, which carries
 * its storage layout (the graph runs NHWC). Also the host-side tensor operations that fold
 * constants and align them to a layout.
 *
 * @example
 * ```ts
 * import { hostTensor, hostTranspose } from "./values.ts";
 * const t = hostTranspose(hostTensor([2, 3], Float32Array.of(1, 2, 3, 4, 5, 6)), [1, 0]);
 * console.log(t.shape, t.data); // [ 3, 2 ] Float32Array(6) [ 1, 4, 2, 5, 3, 6 ]
 * ```
 *
 * @module
 */

import type { Weight } from "../../arch/weights.ts";
import type { NamedTensor } from "../../formats/tensor.ts";

/** A constant known while compiling: integers (shapes, indices) in float64, floats in float32. */
export interface HostTensor {
  /** The ONNX shape. */
  shape: number[];
  /** The elements, row-major. */
  data: Float32Array | Float64Array;
  /** Whether the elements are integers (held in float64). */
  integer: boolean;
}

/** How a runtime tensor's storage relates to its ONNX shape. */
export type StorageLayout =
  /** storage = transpose(onnx, perm): stored axis i holds ONNX axis perm[i]. */
  | { kind: "perm"; perm: number[] }
  /** A 2-D `[N, C·H·W]` ONNX tensor whose features are stored in H,W,C order (an NHWC flatten). */
  | { kind: "hwcFeatures"; channels: number; height: number; width: number };

/** A tensor the schedule computes (or an uploaded constant), in one of the schedule's slots. */
export interface RuntimeValue {
  /** Marks a runtime value. */
  kind: "runtime";
  /** Where the tensor lives while the schedule runs. */
  slot: number;
  /** The ONNX shape. */
  shape: number[];
  /** How its storage holds the ONNX axes. */
  layout: StorageLayout;
}

/** A value of the graph while it is compiled. */
export type Value = { kind: "host"; tensor: HostTensor } | RuntimeValue;

/** The storage layout of spatial tensors: ONNX's NCHW axes stored as NHWC. */
export const NHWC: number[] = [0, 2, 3, 1];

/** The identity permutation of `rank` axes. */
export function identity(rank: number): number[] {
  return Array.from({ length: rank }, (_, i) => i);
}

/** Whether two lists hold the same numbers in the same order. */
export function sameNumbers(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** The product of the numbers (1 for none). */
export function product(values: readonly number[]): number {
  return values.reduce((a, b) => a * b, 1);
}

/** The element strides of a row-major tensor of `shape`. */
export function rowStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  for (let d = shape.length - 1, s = 1; d >= 0; d--) {
    strides[d] = s;
    s *= shape[d];
  }
  return strides;
}

/** A value's ONNX shape. */
export function shapeOf(value: Value): number[] {
  return value.kind === "host" ? value.tensor.shape : value.shape;
}

/** The dimensions in which a tensor of ONNX `shape` is stored under `layout`. */
export function storedDims(shape: number[], layout: StorageLayout): number[] {
  return layout.kind === "perm" ? layout.perm.map((a) => shape[a]) : shape;
}

/** The dimensions in which a runtime value is stored. */
export function storedShape(value: RuntimeValue): number[] {
  return storedDims(value.shape, value.layout);
}

/** The permutation of a value known to have a `perm` layout. */
export function permOf(value: RuntimeValue): number[] {
  if (value.layout.kind !== "perm") throw new Error("internal: expected a permuted layout");
  return value.layout.perm;
}

/** Identifies a value's storage: one slot may hold several views (see compileTranspose). */
export function viewKey(value: RuntimeValue): string {
  return `${value.slot}|${value.shape}|${JSON.stringify(value.layout)}`;
}

/** Whether permuting axes by `perm` keeps the element order, because it only moves size-1 axes. */
export function onlyMovesUnitAxes(perm: readonly number[], shape: readonly number[]): boolean {
  const moved = perm.filter((a) => shape[a] !== 1);
  return moved.every((a, i) => i === 0 || a > moved[i - 1]);
}

/** The layout left after removing some ONNX axes (squeezed or reduced) from a permuted tensor. */
export function withoutAxes(perm: readonly number[], removed: readonly number[]): number[] {
  const kept = perm.filter((a) => !removed.includes(a));
  const order = [...kept].sort((a, b) => a - b);
  return kept.map((a) => order.indexOf(a));
}

/** A host tensor; float64 data holds integers. */
export function hostTensor(shape: number[], data: Float32Array | Float64Array): HostTensor {
  return { shape, data, integer: data instanceof Float64Array };
}

/** Zeroed element storage for a host tensor: float64 for integers, else float32. */
export function newData(integer: boolean, length: number): Float32Array | Float64Array {
  return integer ? new Float64Array(length) : new Float32Array(length);
}

/** An initializer or Constant tensor as a host tensor (every non-float32 type as integers). */
export function fromNamedTensor(t: NamedTensor): HostTensor {
  if (t.data instanceof Float32Array) return { shape: [...t.shape], data: t.data, integer: false };
  const data = Float64Array.from(t.data as ArrayLike<number | bigint>, Number);
  return { shape: [...t.shape], data, integer: true };
}

/** A host tensor's elements as a float32 {@link Weight}. */
export function toWeightData(t: HostTensor): Weight {
  const data = t.data instanceof Float32Array ? t.data : Float32Array.from(t.data);
  return { shape: [...t.shape], data };
}

/**
 * Reads `data` through a strided view: the result's element at multi-index i is
 * `data[offset + Σ i[d]·strides[d]]`. Transposes, slices (any step sign) and broadcasts are
 * all such views of small host tensors.
 */
export function stridedView(
  t: HostTensor,
  shape: number[],
  strides: number[],
  offset: number,
): HostTensor {
  const data = newData(t.integer, product(shape));
  const index = new Array<number>(shape.length).fill(0);
  for (let o = 0; o < data.length; o++) {
    let source = offset;
    for (let d = 0; d < shape.length; d++) source += index[d] * strides[d];
    data[o] = t.data[source];
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++index[d] < shape[d]) break;
      index[d] = 0;
    }
  }
  return { shape, data, integer: t.integer };
}

/** A host tensor with its axes permuted: axis i of the result is axis `perm[i]` of `t`. */
export function hostTranspose(t: HostTensor, perm: number[]): HostTensor {
  const strides = rowStrides(t.shape);
  return stridedView(t, perm.map((p) => t.shape[p]), perm.map((p) => strides[p]), 0);
}

/** `t` broadcast to `shape` (numpy rules, right-aligned). */
export function hostBroadcast(t: HostTensor, shape: number[]): HostTensor {
  const offset = shape.length - t.shape.length;
  const strides = rowStrides(t.shape);
  return stridedView(
    t,
    shape,
    shape.map((_, d) => (d < offset || t.shape[d - offset] === 1 ? 0 : strides[d - offset])),
    0,
  );
}

/** A constant aligned to broadcast against a rank-`rank` tensor stored with `perm`. */
export function hostForLayout(t: HostTensor, rank: number, perm: number[]): HostTensor {
  const aligned = { ...t, shape: [...new Array(rank - t.shape.length).fill(1), ...t.shape] };
  return sameNumbers(perm, identity(rank)) ? aligned : hostTranspose(aligned, perm);
}
