/**
 * Operators that rearrange elements without computing new ones: Concat, Reshape, Flatten,
 * Transpose, Squeeze, Unsqueeze, Pad and Slice. Each works on the input's storage layout where it
 * can, so that an NHWC tensor is not transposed back and forth; on constants each is folded on the
 * host.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { useBackend } from "../../runtime/backend.ts";
 * await useBackend("cpu");
 * import { readOnnx } from "../../formats/onnx.ts";
 * import { loadOnnxGraph } from "./load.ts";
 * const file = "testdata/fixtures/onnx_ops/view_op9.onnx"; // Shape/Gather/Concat → Reshape
 * const graph = loadOnnxGraph(await readOnnx(await Deno.readFile(file), file), file);
 * console.log(graph.predict(tf.zeros([2, 3, 16, 16])).shape); // [ 2, 10 ]
 * graph.dispose();
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import type { OnnxNode } from "../../formats/onnx.ts";
import {
  intsFromAttrOrInput,
  normalizeAxis,
  numberAttr,
  numbersAttr,
  scalarOf,
  stringAttr,
} from "./attributes.ts";
import type { Inputs, OpCompiler, ScheduleBuilder } from "./schedule.ts";
import {
  type HostTensor,
  hostTranspose,
  identity,
  newData,
  NHWC,
  onlyMovesUnitAxes,
  permOf,
  product,
  rowStrides,
  type RuntimeValue,
  sameNumbers,
  shapeOf,
  type StorageLayout,
  storedDims,
  stridedView,
  type Value,
  withoutAxes,
} from "./values.ts";

/** Concatenates host tensors along `axis`. */
export function concatHost(
  b: ScheduleBuilder,
  node: OnnxNode,
  parts: HostTensor[],
  axis: number,
): HostTensor {
  const shape = [...parts[0].shape];
  shape[axis] = parts.reduce((sum, p) => sum + p.shape[axis], 0);
  const integer = parts.every((p) => p.integer);
  const data = newData(integer, product(shape));
  const outer = product(shape.slice(0, axis));
  let offset = 0;
  for (let o = 0; o < outer; o++) {
    for (const p of parts) {
      if (p.shape.length !== shape.length) b.fail(node, "inputs differ in rank");
      const chunk = product(p.shape.slice(axis));
      data.set(p.data.subarray(o * chunk, (o + 1) * chunk), offset);
      offset += chunk;
    }
  }
  return { shape, data, integer };
}

/** Concat, folded on the host when every part is a constant, else in the first tensor's layout. */
export const compileConcat: OpCompiler = (b, node, inputs) => {
  const parts = inputs.filter((v): v is Value => v !== undefined);
  const rank = shapeOf(parts[0]).length;
  const axis = normalizeAxis(b, node, numberAttr(b, node, "axis", 0), rank);
  for (const p of parts) {
    const s = shapeOf(p);
    if (s.length !== rank || s.some((d, i) => i !== axis && d !== shapeOf(parts[0])[i])) {
      b.fail(node, `input shapes [${shapeOf(parts[0])}] and [${s}] cannot be concatenated`);
    }
  }
  if (parts.every((p) => p.kind === "host")) {
    return { kind: "host", tensor: concatHost(b, node, parts.map((p) => p.tensor), axis) };
  }
  const first = parts.find((p): p is RuntimeValue => p.kind === "runtime")!;
  const perm = first.layout.kind === "perm" ? first.layout.perm : identity(rank);
  const values = parts.map((p) => b.inLayout(p, perm));
  const shape = [...shapeOf(parts[0])];
  shape[axis] = parts.reduce((sum, p) => sum + shapeOf(p)[axis], 0);
  const storedAxis = perm.indexOf(axis);
  return b.emit(
    values,
    shape,
    { kind: "perm", perm: [...perm] },
    (xs) => tf.concat(xs, storedAxis),
  );
};

/**
 * Reshape of a runtime tensor. Storage is reshaped directly when it already is in ONNX
 * element order; the NHWC flatten to `[N, C·H·W]` keeps H,W,C feature order (see the module
 * doc); anything else is transposed to ONNX order first.
 */
function reshapeValue(b: ScheduleBuilder, value: Value, shape: number[]): Value {
  if (value.kind === "host") return { kind: "host", tensor: { ...value.tensor, shape } };
  if (sameNumbers(shape, value.shape)) return value;
  const layout = value.layout;
  const onnxOrdered = layout.kind === "perm" && onlyMovesUnitAxes(layout.perm, value.shape);
  const plain: StorageLayout = { kind: "perm", perm: identity(shape.length) };
  if (onnxOrdered) return b.emit([value], shape, plain, ([x]) => tf.reshape(x, shape));
  const [n, channels, height, width] = value.shape;
  if (
    layout.kind === "perm" && sameNumbers(layout.perm, NHWC) && shape.length === 2 && shape[0] === n
  ) {
    return b.emit(
      [value],
      shape,
      { kind: "hwcFeatures", channels, height, width },
      ([x]) => tf.reshape(x, shape),
    );
  }
  return b.emit([b.onnxOrder(value)], shape, plain, ([x]) => tf.reshape(x, shape));
}

/** Reshape to a constant shape (`0` copies a dimension unless allowzero, `-1` is inferred). */
export const compileReshape: OpCompiler = (b, node, inputs) => {
  const x = b.input(node, inputs, 0);
  const target = Array.from(b.hostInput(node, inputs, 1, "shape").data);
  const inShape = shapeOf(x);
  const allowZero = numberAttr(b, node, "allowzero", 0) === 1;
  const shape = target.map((d, i) => (d === 0 && !allowZero ? inShape[i] : d));
  const known = product(shape.filter((d) => d !== -1));
  const total = product(inShape);
  const inferred = shape.filter((d) => d === -1).length;
  if (inferred > 1 || (inferred === 0 ? known !== total : total % known !== 0)) {
    b.fail(node, `cannot reshape [${inShape}] to [${target}]`);
  }
  return reshapeValue(b, x, shape.map((d) => (d === -1 ? total / known : d)));
};

/** Flatten to 2-D at `axis`. */
export const compileFlatten: OpCompiler = (b, node, inputs) => {
  const x = b.input(node, inputs, 0);
  const shape = shapeOf(x);
  const axis = numberAttr(b, node, "axis", 1);
  const split = axis < 0 ? axis + shape.length : axis;
  if (split < 0 || split > shape.length) b.fail(node, `axis ${axis} is out of range`);
  return reshapeValue(b, x, [product(shape.slice(0, split)), product(shape.slice(split))]);
};

/**
 * Transpose composed with the input's layout: when the result's storage (in ONNX order, or
 * NHWC for 4-D) is the input's storage as it is, no data moves.
 */
export const compileTranspose: OpCompiler = (b, node, inputs) => {
  const x = b.input(node, inputs, 0);
  const rank = shapeOf(x).length;
  const perm = numbersAttr(b, node, "perm") ?? identity(rank).reverse();
  if (!sameNumbers([...perm].sort((p, q) => p - q), identity(rank))) {
    b.fail(node, `perm [${perm}] is not a permutation of ${rank} axes`);
  }
  const shape = perm.map((p) => shapeOf(x)[p]);
  if (x.kind === "host") return { kind: "host", tensor: hostTranspose(x.tensor, perm) };
  const value = b.permuted(x);
  const current = permOf(value);
  const candidates = rank === 4 ? [identity(rank), NHWC] : [identity(rank)];
  for (const layout of candidates) {
    const axes = layout.map((a) => current.indexOf(perm[a]));
    if (sameNumbers(axes, identity(rank))) {
      return { kind: "runtime", slot: value.slot, shape, layout: { kind: "perm", perm: layout } };
    }
  }
  const axes = perm.map((p) => current.indexOf(p));
  return b.emit(
    [value],
    shape,
    { kind: "perm", perm: identity(rank) },
    ([t]) => tf.transpose(t, axes),
  );
};

/** Removes unit axes: storage keeps its order, so it is a reshape of the stored tensor. */
function removeAxes(b: ScheduleBuilder, x: Value, axes: number[]): Value {
  const shape = shapeOf(x).filter((_, i) => !axes.includes(i));
  if (x.kind === "host") return { kind: "host", tensor: { ...x.tensor, shape } };
  const value = b.permuted(x);
  const layout: StorageLayout = { kind: "perm", perm: withoutAxes(permOf(value), axes) };
  const stored = storedDims(shape, layout);
  return b.emit([value], shape, layout, ([t]) => tf.reshape(t, stored));
}

/** Squeeze of the given unit axes, or of all of them. */
export const compileSqueeze: OpCompiler = (b, node, inputs) => {
  const x = b.input(node, inputs, 0);
  const shape = shapeOf(x);
  const given = intsFromAttrOrInput(b, node, inputs, "axes", 1);
  const axes = given
    ? given.map((a) => normalizeAxis(b, node, a, shape.length))
    : identity(shape.length).filter((a) => shape[a] === 1);
  if (axes.some((a) => shape[a] !== 1)) {
    b.fail(node, `cannot squeeze axes [${given}] of [${shape}]`);
  }
  return removeAxes(b, x, axes);
};

/** Inserts unit axes; a permuted tensor gets them at the end of its storage. */
export const compileUnsqueeze: OpCompiler = (b, node, inputs) => {
  const x = b.input(node, inputs, 0);
  const inShape = shapeOf(x);
  const given = intsFromAttrOrInput(b, node, inputs, "axes", 1);
  if (!given) return b.fail(node, "axes are missing");
  const rank = inShape.length + given.length;
  const axes = given.map((a) => normalizeAxis(b, node, a, rank));
  const kept = identity(rank).filter((a) => !axes.includes(a));
  const shape = identity(rank).map((a) => (axes.includes(a) ? 1 : inShape[kept.indexOf(a)]));
  if (x.kind === "host") return { kind: "host", tensor: { ...x.tensor, shape } };
  const value = b.permuted(x);
  const perm = permOf(value);
  const layout: StorageLayout = {
    kind: "perm",
    perm: sameNumbers(perm, identity(perm.length))
      ? identity(rank)
      : [...perm.map((a) => kept[a]), ...axes.toSorted((p, q) => p - q)],
  };
  const stored = storedDims(shape, layout);
  return b.emit([value], shape, layout, ([t]) => tf.reshape(t, stored));
};

/** Pad with a constant or by reflection; pads are permuted to the input's storage. */
export const compilePad: OpCompiler = (b, node, inputs) => {
  const x = b.input(node, inputs, 0);
  const rank = shapeOf(x).length;
  const mode = stringAttr(b, node, "mode", "constant");
  if (mode !== "constant" && mode !== "reflect") b.fail(node, `mode '${mode}' is not supported`);
  const given = intsFromAttrOrInput(b, node, inputs, "pads", 1);
  const axes = inputs[3]
    ? Array.from(b.hostInput(node, inputs, 3, "axes").data, (a) => normalizeAxis(b, node, a, rank))
    : identity(rank);
  if (!given || given.length !== 2 * axes.length) {
    return b.fail(node, `pads [${given}] do not fit rank ${rank}`);
  }
  if (given.some((p) => p < 0)) b.fail(node, `negative pads [${given}] are not supported`);
  const pads = identity(rank).map((): [number, number] => [0, 0]);
  axes.forEach((a, i) => (pads[a] = [given[i], given[i + axes.length]]));
  const constant = b.graph.opset < 11
    ? numberAttr(b, node, "value", 0)
    : inputs[2]
    ? scalarOf(b, node, b.hostInput(node, inputs, 2, "constant_value"), "constant_value")
    : 0;
  const value = b.permuted(x);
  const perm = permOf(value);
  const paddings = perm.map((a) => pads[a]);
  const shape = value.shape.map((d, a) => d + pads[a][0] + pads[a][1]);
  return b.emit(
    [value],
    shape,
    value.layout,
    ([t]) =>
      mode === "reflect" ? tf.mirrorPad(t, paddings, "reflect") : tf.pad(t, paddings, constant),
  );
};

/** Slice parameters normalised per the ONNX spec (clamped starts/ends, per axis). */
function sliceRanges(
  b: ScheduleBuilder,
  node: OnnxNode,
  inputs: Inputs,
  shape: number[],
): { start: number; step: number; count: number }[] {
  const starts = intsFromAttrOrInput(b, node, inputs, "starts", 1);
  const ends = intsFromAttrOrInput(b, node, inputs, "ends", 2);
  if (!starts || !ends || starts.length !== ends.length) b.fail(node, "starts/ends are missing");
  const axes = (intsFromAttrOrInput(b, node, inputs, "axes", 3) ?? identity(starts.length))
    .map((a) => normalizeAxis(b, node, a, shape.length));
  const steps = (b.graph.opset >= 10 && inputs[4])
    ? Array.from(b.hostInput(node, inputs, 4, "steps").data)
    : axes.map(() => 1);
  const ranges = shape.map((dim) => ({ start: 0, step: 1, count: dim }));
  axes.forEach((axis, i) => {
    const dim = shape[axis];
    const step = steps[i];
    if (step === 0) b.fail(node, "a step of 0 is not allowed");
    let start = starts[i] < 0 ? starts[i] + dim : starts[i];
    let end = ends[i] < 0 ? ends[i] + dim : ends[i];
    if (step > 0) {
      start = Math.min(Math.max(start, 0), dim);
      end = Math.min(Math.max(end, 0), dim);
    } else {
      start = Math.min(Math.max(start, 0), dim - 1);
      end = Math.min(Math.max(end, -1), dim - 1);
    }
    ranges[axis] = { start, step, count: Math.max(0, Math.ceil((end - start) / step)) };
  });
  return ranges;
}

/** Slice: strided views of constants (any step), strided slices of tensors (positive steps). */
export const compileSlice: OpCompiler = (b, node, inputs) => {
  const x = b.input(node, inputs, 0);
  const ranges = sliceRanges(b, node, inputs, shapeOf(x));
  const shape = ranges.map((r) => r.count);
  if (x.kind === "host") {
    const strides = rowStrides(x.tensor.shape);
    const offset = ranges.reduce((sum, r, d) => sum + r.start * strides[d], 0);
    return {
      kind: "host",
      tensor: stridedView(x.tensor, shape, ranges.map((r, d) => r.step * strides[d]), offset),
    };
  }
  if (ranges.some((r) => r.step < 0)) {
    b.fail(node, "negative steps on computed tensors are not supported");
  }
  const value = b.permuted(x);
  const perm = permOf(value);
  const begin = perm.map((a) => ranges[a].start);
  // One past the last element taken, so that it never exceeds the axis.
  const end = perm.map((a) => ranges[a].start + (ranges[a].count - 1) * ranges[a].step + 1);
  const strides = perm.map((a) => ranges[a].step);
  return b.emit([value], shape, value.layout, ([t]) => tf.stridedSlice(t, begin, end, strides));
};
