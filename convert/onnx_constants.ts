/**
 * The small constant computations of an ONNX graph, evaluated while it is read: exporters
 * compute attributes such as a Pad's amounts or a Reshape's shape with nodes (torch writes
 * `F.pad`'s pads as Constant → ConstantOfShape → Concat → Reshape → Slice → Transpose → Reshape
 * → Cast), and the structure check needs their values. Only nodes whose inputs are all constant
 * are evaluated, on plain numbers (int64 beyond 2^53 loses precision, which no amount of padding
 * or shape has).
 *
 * @example
 * ```ts
 * import { foldConstants } from "./onnx_constants.ts";
 * const values = foldConstants({
 *   name: "g",
 *   inputs: [],
 *   outputs: [],
 *   initializers: new Map(),
 *   nodes: [
 *     { name: "c", opType: "Constant", domain: "", inputs: [], outputs: ["c"], attributes: { value_ints: [2, 3] } },
 *     { name: "t", opType: "Concat", domain: "", inputs: ["c", "c"], outputs: ["t"], attributes: { axis: 0 } },
 *   ],
 * }, 13);
 * console.log(values.get("t")?.data); // [ 2, 3, 2, 3 ]
 * ```
 *
 * @module
 */

import type { OnnxGraph, OnnxNode } from "../formats/onnx.ts";
import type { NamedTensor } from "../formats/tensor.ts";

/** A constant value: its shape and its elements, row-major. */
export interface ConstantValue {
  /** Dimensions (empty for a scalar). */
  shape: number[];
  /** Elements. */
  data: number[];
}

const sizeOf = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** The most elements a folded constant has: attribute-like values, never weights. */
const SMALL = 64;

/** A tensor's elements as plain numbers. */
function fromTensor(t: NamedTensor): ConstantValue {
  return { shape: [...t.shape], data: Array.from(t.data as ArrayLike<number | bigint>, Number) };
}

/** Row-major strides of a shape. */
function strides(shape: number[]): number[] {
  const out = shape.map(() => 1);
  for (let d = shape.length - 2; d >= 0; d--) out[d] = out[d + 1] * shape[d + 1];
  return out;
}

/** Copies the elements at `index(outIndex)` into a tensor of `shape`. */
function gather(
  x: ConstantValue,
  shape: number[],
  sourceIndex: (position: number[]) => number[],
): ConstantValue {
  const inStrides = strides(x.shape);
  const outStrides = strides(shape);
  const data = Array.from({ length: sizeOf(shape) }, (_, flat) => {
    const position = outStrides.map((s, d) => Math.floor(flat / s) % shape[d]);
    return x.data[sourceIndex(position).reduce((sum, p, d) => sum + p * inStrides[d], 0)];
  });
  return { shape, data };
}

const axis = (a: number, rank: number) => (a < 0 ? a + rank : a);

/** Evaluates one node on constant inputs; undefined for an operator it does not evaluate. */
function evaluate(
  node: OnnxNode,
  inputs: (ConstantValue | undefined)[],
  opset: number,
): ConstantValue | undefined {
  const a = node.attributes;
  const [x] = inputs;
  const ints = (name: string, index: number): number[] | undefined =>
    Array.isArray(a[name]) ? (a[name] as number[]) : inputs[index]?.data;
  switch (node.opType) {
    case "Constant": {
      const value = a.value;
      if (value && typeof value === "object" && !Array.isArray(value)) return fromTensor(value);
      if (Array.isArray(a.value_ints)) {
        return { shape: [a.value_ints.length], data: a.value_ints as number[] };
      }
      if (typeof a.value_int === "number") return { shape: [], data: [a.value_int] };
      if (typeof a.value_float === "number") return { shape: [], data: [a.value_float] };
      return undefined;
    }
    case "Identity":
    case "Cast":
      return x;
    case "ConstantOfShape": {
      const fill = a.value && typeof a.value === "object" && !Array.isArray(a.value)
        ? fromTensor(a.value).data[0]
        : 0;
      return x && { shape: x.data, data: new Array(sizeOf(x.data)).fill(fill) };
    }
    case "Concat": {
      if (!inputs.every((v) => v)) return undefined;
      const values = inputs as ConstantValue[];
      const d = axis(a.axis as number, values[0].shape.length);
      const shape = [...values[0].shape];
      shape[d] = values.reduce((sum, v) => sum + v.shape[d], 0);
      // Rows of the concatenated axis and everything after it, taken in turn from each input.
      const outer = sizeOf(shape.slice(0, d));
      const data: number[] = [];
      for (let o = 0; o < outer; o++) {
        for (const v of values) {
          const block = sizeOf(v.shape.slice(d));
          data.push(...v.data.slice(o * block, (o + 1) * block));
        }
      }
      return { shape, data };
    }
    case "Reshape": {
      const target = inputs[1];
      if (!x || !target) return undefined;
      const shape = target.data.map((dim, i) => (dim === 0 ? x.shape[i] : dim));
      const known = shape.filter((d) => d !== -1).reduce((p, d) => p * d, 1);
      return { shape: shape.map((d) => (d === -1 ? x.data.length / known : d)), data: x.data };
    }
    case "Unsqueeze": {
      const axes = ints("axes", 1);
      if (!x || !axes) return undefined;
      const rank = x.shape.length + axes.length;
      const shape = [...x.shape];
      for (const d of axes.map((d) => axis(d, rank)).sort((p, q) => p - q)) shape.splice(d, 0, 1);
      return { shape, data: x.data };
    }
    case "Squeeze": {
      const axes = ints("axes", 1)?.map((d) => axis(d, x?.shape.length ?? 0));
      if (!x) return undefined;
      return {
        shape: x.shape.filter((d, i) => (axes ? !axes.includes(i) : d !== 1)),
        data: x.data,
      };
    }
    case "Transpose": {
      if (!x) return undefined;
      const perm = (a.perm as number[] | undefined) ??
        x.shape.map((_, i) => x.shape.length - 1 - i);
      const shape = perm.map((p) => x.shape[p]);
      return gather(x, shape, (position) => {
        const source = new Array<number>(perm.length);
        perm.forEach((p, i) => (source[p] = position[i]));
        return source;
      });
    }
    case "Slice": {
      if (!x) return undefined;
      const starts = ints("starts", 1);
      const ends = ints("ends", 2);
      if (!starts || !ends) return undefined;
      const axes = (opset < 10 ? (a.axes as number[] | undefined) : inputs[3]?.data) ??
        starts.map((_, i) => i);
      const steps = opset < 10 ? starts.map(() => 1) : inputs[4]?.data ?? starts.map(() => 1);
      const begin = x.shape.map(() => 0);
      const step = x.shape.map(() => 1);
      const shape = [...x.shape];
      axes.forEach((raw, i) => {
        const d = axis(raw, x.shape.length);
        const n = x.shape[d];
        const s = steps[i];
        const clamp = (v: number, low: number, high: number) => Math.min(Math.max(v, low), high);
        const from = clamp(
          starts[i] < 0 ? starts[i] + n : starts[i],
          s > 0 ? 0 : -1,
          s > 0 ? n : n - 1,
        );
        const to = clamp(ends[i] < 0 ? ends[i] + n : ends[i], s > 0 ? 0 : -1, s > 0 ? n : n - 1);
        begin[d] = from;
        step[d] = s;
        shape[d] = Math.max(0, Math.ceil((to - from) / s));
      });
      return gather(x, shape, (position) => position.map((p, d) => begin[d] + p * step[d]));
    }
    case "Gather": {
      const indices = inputs[1];
      if (!x || !indices) return undefined;
      const d = axis((a.axis as number | undefined) ?? 0, x.shape.length);
      const shape = [...x.shape.slice(0, d), ...indices.shape, ...x.shape.slice(d + 1)];
      return gather(x, shape, (position) => {
        const index = position.slice(d, d + indices.shape.length);
        const flat = index.reduce((sum, p, k) => sum + p * strides(indices.shape)[k], 0);
        const i = indices.data[flat];
        return [
          ...position.slice(0, d),
          i < 0 ? i + x.shape[d] : i,
          ...position.slice(d + indices.shape.length),
        ];
      });
    }
    default:
      return undefined;
  }
}

/**
 * The value of every constant in a graph: initializers, Constant nodes, and nodes of the
 * operators above whose inputs are all constant, by value name.
 */
export function foldConstants(graph: OnnxGraph, opset: number): Map<string, ConstantValue> {
  const values = new Map<string, ConstantValue>();
  for (const [name, tensor] of graph.initializers) {
    // Weights are decoded on first read: only small tensors (shapes, pads, axes) are touched.
    if (sizeOf(tensor.shape) <= SMALL) values.set(name, fromTensor(tensor));
  }
  for (const node of graph.nodes) {
    const inputs = node.inputs.map((i) => (i ? values.get(i) : undefined));
    if (node.opType !== "Constant" && inputs.some((v, k) => node.inputs[k] && !v)) continue;
    const value = evaluate(node, inputs, opset);
    if (value && value.data.length <= SMALL) values.set(node.outputs[0], value);
  }
  return values;
}
