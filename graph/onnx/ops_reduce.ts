/**
 * Reductions along axes: Softmax and ReduceMean, over the stored axes that hold the ONNX ones.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { useBackend } from "../../runtime/backend.ts";
 * await useBackend("cpu");
 * import { readOnnx } from "../../formats/onnx.ts";
 * import { loadOnnxGraph } from "./load.ts";
 * const file = "testdata/fixtures/onnx_ops/pools_op13.onnx"; // ends in a Softmax
 * const graph = loadOnnxGraph(await readOnnx(await Deno.readFile(file), file), file);
 * const sums = tf.sum(graph.predict(tf.randomNormal([2, 3, 16, 16])), -1).arraySync() as number[];
 * console.log(sums.map((sum) => sum.toFixed(3))); // [ "1.000", "1.000" ]
 * graph.dispose();
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import type { Tensor } from "../../runtime/tensor.ts";
import { intsFromAttrOrInput, normalizeAxis, numberAttr } from "./attributes.ts";
import type { OpCompiler } from "./schedule.ts";
import { identity, permOf, product, shapeOf, type StorageLayout, withoutAxes } from "./values.ts";

function softmaxAlong(x: Tensor, axis: number): Tensor {
  if (axis === x.rank - 1) return tf.softmax(x);
  const exp = tf.exp(tf.sub(x, tf.max(x, axis, true)));
  return tf.div(exp, tf.sum(exp, axis, true));
}

/** Softmax over one axis (opset ≥ 13) or over all axes from `axis` on (older opsets). */
export const compileSoftmax: OpCompiler = (b, node, inputs) => {
  const x = b.input(node, inputs, 0);
  const shape = shapeOf(x);
  const legacy = b.graph.opset < 13;
  const axis = normalizeAxis(b, node, numberAttr(b, node, "axis", legacy ? 1 : -1), shape.length);
  if (legacy && axis !== shape.length - 1) {
    const flat = [product(shape.slice(0, axis)), product(shape.slice(axis))];
    return b.emit(
      [b.onnxOrder(x)],
      shape,
      { kind: "perm", perm: identity(shape.length) },
      ([t]) => tf.reshape(tf.softmax(tf.reshape(t, flat)), shape),
    );
  }
  const value = b.permuted(x);
  const storedAxis = permOf(value).indexOf(axis);
  return b.emit([value], shape, value.layout, ([t]) => softmaxAlong(t, storedAxis));
};

/** ReduceMean over the given axes (all by default), in the input's layout. */
export const compileReduceMean: OpCompiler = (b, node, inputs) => {
  const x = b.input(node, inputs, 0);
  const shape = shapeOf(x);
  const given = intsFromAttrOrInput(b, node, inputs, "axes", 1);
  if (!given?.length && numberAttr(b, node, "noop_with_empty_axes", 0) === 1) return x;
  const axes = given?.length
    ? given.map((a) => normalizeAxis(b, node, a, shape.length))
    : identity(shape.length);
  const keepDims = numberAttr(b, node, "keepdims", 1) === 1;
  const value = b.permuted(x);
  const perm = permOf(value);
  const storedAxes = axes.map((a) => perm.indexOf(a));
  const out = keepDims
    ? shape.map((d, a) => (axes.includes(a) ? 1 : d))
    : shape.filter((_, a) => !axes.includes(a));
  const layout: StorageLayout = {
    kind: "perm",
    perm: keepDims ? [...perm] : withoutAxes(perm, axes),
  };
  return b.emit([value], out, layout, ([t]) => tf.mean(t, storedAxes, keepDims));
};
