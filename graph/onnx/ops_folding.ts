/**
 * The operators of shape subgraphs (Shape, Gather, Cast, ConstantOfShape, Range) and the values of
 * Constant nodes. While compiling, shape computations on constants are evaluated on the host, so
 * the schedule holds only tensor work; Gather also indexes computed tensors.
 *
 * @example
 * ```ts
 * import { constantNodeValue } from "./ops_folding.ts";
 * const node = {
 *   name: "c",
 *   opType: "Constant",
 *   domain: "",
 *   inputs: [],
 *   outputs: ["shape"],
 *   attributes: { value_ints: [1, -1] },
 * };
 * const value = constantNodeValue("x.onnx", 13, node);
 * console.log(value.shape, value.data, value.integer); // [ 2 ] Float64Array(2) [ 1, -1 ] true
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import type { OnnxNode } from "../../formats/onnx.ts";
import type { NamedTensor } from "../../formats/tensor.ts";
import { ZooFormatError } from "../../arch/errors.ts";
import { normalizeAxis, numberAttr, scalarOf } from "./attributes.ts";
import { concatHost } from "./ops_shape.ts";
import { nodeLabel, type OpCompiler } from "./schedule.ts";
import {
  fromNamedTensor,
  type HostTensor,
  hostTensor,
  identity,
  newData,
  product,
  rowStrides,
  shapeOf,
  stridedView,
} from "./values.ts";

/** Shape, always folded: the input's ONNX dimensions from `start` to `end`. */
export const compileShape: OpCompiler = (b, node, inputs) => {
  const shape = shapeOf(b.input(node, inputs, 0));
  const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + shape.length : v, 0), shape.length);
  const start = clamp(numberAttr(b, node, "start", 0));
  const end = clamp(numberAttr(b, node, "end", shape.length));
  const dims = shape.slice(start, Math.max(start, end));
  return {
    kind: "host",
    tensor: { shape: [dims.length], data: Float64Array.from(dims), integer: true },
  };
};

/** Gather of constant indices: folded on constants, a tfjs gather on tensors. */
export const compileGather: OpCompiler = (b, node, inputs) => {
  const x = b.input(node, inputs, 0);
  const indices = b.hostInput(node, inputs, 1, "indices");
  const inShape = shapeOf(x);
  const axis = normalizeAxis(b, node, numberAttr(b, node, "axis", 0), inShape.length);
  const dim = inShape[axis];
  const positions = Array.from(indices.data, (i) => {
    if (i < -dim || i >= dim) b.fail(node, `index ${i} is out of range for size ${dim}`);
    return i < 0 ? i + dim : i;
  });
  const shape = [...inShape.slice(0, axis), ...indices.shape, ...inShape.slice(axis + 1)];
  if (x.kind === "host") {
    const parts = positions.map((p) => {
      const strides = rowStrides(x.tensor.shape);
      const partShape = inShape.map((d, a) => (a === axis ? 1 : d));
      return stridedView(x.tensor, partShape, strides, p * strides[axis]);
    });
    const joined = concatHost(b, node, parts, axis);
    return { kind: "host", tensor: { ...joined, shape } };
  }
  const value = b.onnxOrder(x);
  const index = b.graph.weights.get(
    indices,
    `gather:${positions}`,
    () => tf.tensor(Int32Array.from(positions), indices.shape, "int32"),
  );
  return b.emit(
    [value],
    shape,
    { kind: "perm", perm: identity(shape.length) },
    ([t]) => tf.gather(t, index, axis),
  );
};

/** ONNX TensorProto element types that are floating point. */
const FLOAT_TYPES: Set<number> = new Set([1, 10, 11, 16]);

/** Cast: folded on constants; a computed tensor may only be cast to a float type (a no-op). */
export const compileCast: OpCompiler = (b, node, inputs) => {
  const x = b.input(node, inputs, 0);
  const to = numberAttr(b, node, "to", 1);
  if (x.kind === "runtime") {
    if (!FLOAT_TYPES.has(to)) {
      b.fail(node, `casting a computed tensor to type ${to} is not supported`);
    }
    return x;
  }
  const integer = !FLOAT_TYPES.has(to);
  const data = newData(integer, x.tensor.data.length);
  for (let i = 0; i < data.length; i++) {
    const v = x.tensor.data[i];
    data[i] = to === 9 ? Number(v !== 0) : integer ? Math.trunc(v) : v;
  }
  return { kind: "host", tensor: { shape: x.tensor.shape, data, integer } };
};

/** ConstantOfShape, always folded. */
export const compileConstantOfShape: OpCompiler = (b, node, inputs) => {
  const shape = Array.from(b.hostInput(node, inputs, 0, "shape").data);
  const value = node.attributes.value;
  const fill = value && typeof value === "object" && !Array.isArray(value)
    ? fromNamedTensor(value as NamedTensor)
    : hostTensor([1], new Float32Array([0]));
  const data = newData(fill.integer, product(shape));
  data.fill(scalarOf(b, node, fill, "value"));
  return { kind: "host", tensor: { shape, data, integer: fill.integer } };
};

/** Range, always folded. */
export const compileRange: OpCompiler = (b, node, inputs) => {
  const [start, limit, delta] = [0, 1, 2].map((i) => b.hostInput(node, inputs, i, "range bound"));
  const [s, l, d] = [start, limit, delta].map((t) => scalarOf(b, node, t, "range bound"));
  const count = Math.max(Math.ceil((l - s) / d), 0);
  const data = newData(start.integer, count);
  for (let i = 0; i < count; i++) data[i] = s + i * d;
  return { kind: "host", tensor: { shape: [count], data, integer: start.integer } };
};

/** A Constant node's value, from whichever `value*` attribute it has. */
export function constantNodeValue(file: string, opset: number, node: OnnxNode): HostTensor {
  const [name, value] = Object.entries(node.attributes)[0] ?? [];
  if (typeof value === "object" && !Array.isArray(value)) return fromNamedTensor(value);
  if (name === "value_float" && typeof value === "number") {
    return hostTensor([], new Float32Array([value]));
  }
  if (name === "value_floats" && Array.isArray(value)) {
    return hostTensor([value.length], Float32Array.from(value as number[]));
  }
  if (name === "value_int" && typeof value === "number") {
    return hostTensor([], new Float64Array([value]));
  }
  if (name === "value_ints" && Array.isArray(value)) {
    return hostTensor([value.length], Float64Array.from(value as number[]));
  }
  throw new ZooFormatError(
    file,
    `${nodeLabel(node)}, opset ${opset}): attribute '${name}' is not a supported constant`,
  );
}
