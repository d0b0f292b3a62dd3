/**
 * Dense operators: Gemm and MatMul. A constant B becomes a tfjs kernel once, with its rows
 * permuted when A holds the H,W,C-ordered features of an NHWC flatten, so that the common
 * classifier head needs no transpose back to C,H,W.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { useBackend } from "../../runtime/backend.ts";
 * await useBackend("cpu");
 * import { readOnnx } from "../../formats/onnx.ts";
 * import { loadOnnxGraph } from "./load.ts";
 * const file = "testdata/fixtures/onnx_ops/flatten_gemm.onnx"; // Flatten → Gemm
 * const graph = loadOnnxGraph(await readOnnx(await Deno.readFile(file), file), file);
 * console.log(graph.inputShape); // [ 2, 3, 16, 16 ]
 * graph.dispose();
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import type { Tensor2D } from "../../runtime/tensor.ts";
import type { Weight } from "../../arch/weights.ts";
import { chwRowsToHwc, linearToDense } from "../../convert/layout.ts";
import { numberAttr } from "./attributes.ts";
import { broadcastShapes } from "./ops_elementwise.ts";
import type { OpCompiler, ScheduleBuilder } from "./schedule.ts";
import {
  type HostTensor,
  identity,
  type RuntimeValue,
  shapeOf,
  toWeightData,
  type Value,
} from "./values.ts";

/** Matrix product with a constant `[K, M]` kernel; `[N, C·H·W]` HWC features permute its rows. */
function denseKernel(
  b: ScheduleBuilder,
  a: RuntimeValue,
  source: HostTensor,
  variant: string,
  orient: (w: Weight) => Weight,
): { a: RuntimeValue; kernel: Tensor2D } {
  const layout = a.layout;
  if (layout.kind !== "hwcFeatures") {
    return {
      a: b.onnxOrder(a),
      kernel: b.graph.weights.get(source, variant, () => upload2d(orient)),
    };
  }
  const { channels, height, width } = layout;
  return {
    a,
    kernel: b.graph.weights.get(
      source,
      `${variant}:hwc${channels},${height},${width}`,
      () => upload2d((w) => chwRowsToHwc(orient(w), channels, height, width)),
    ),
  };

  function upload2d(make: (w: Weight) => Weight): Tensor2D {
    const k = make(toWeightData(source));
    return tf.tensor2d(k.data, k.shape as [number, number]);
  }
}

/** Gemm: α·A·B + β·C, a fused matMul with a bias when B is constant and C fits as one. */
export const compileGemm: OpCompiler = (b, node, inputs) => {
  const alpha = numberAttr(b, node, "alpha", 1);
  const beta = numberAttr(b, node, "beta", 1);
  const transA = numberAttr(b, node, "transA", 0) === 1;
  const transB = numberAttr(b, node, "transB", 0) === 1;
  const a = b.runtime(b.input(node, inputs, 0));
  const bInput = b.input(node, inputs, 1);
  if (a.shape.length !== 2 || shapeOf(bInput).length !== 2) b.fail(node, "A and B must be 2-D");
  const [rows, depth] = transA ? [a.shape[1], a.shape[0]] : a.shape;
  const bShape = shapeOf(bInput);
  const [bDepth, units] = transB ? [bShape[1], bShape[0]] : bShape;
  if (bDepth !== depth) b.fail(node, `A [${a.shape}] and B [${bShape}] do not multiply`);
  const shape = [rows, units];
  const c = inputs[2];
  let bias: tf.Tensor1D | undefined;
  let addend: RuntimeValue | undefined;
  if (c) {
    broadcastShapes(b, node, shape, shapeOf(c));
    if (
      c.kind === "host" && c.tensor.data.length === units && (c.tensor.shape.at(-1) ?? 1) === units
    ) {
      bias = b.graph.weights.get(
        c.tensor,
        `gemm-bias:${beta}`,
        () => tf.tensor1d(Float32Array.from(c.tensor.data, (v) => v * beta)),
      );
    } else {
      addend = b.onnxOrder(c);
    }
  }
  const extras = addend ? [addend] : [];
  if (bInput.kind === "host" && !(transA && a.layout.kind === "hwcFeatures")) {
    const dense = denseKernel(b, a, bInput.tensor, `gemm:${transB}:${alpha}`, (w) => {
      const k = transB ? linearToDense(w) : w;
      return alpha === 1 ? k : { shape: k.shape, data: k.data.map((v) => v * alpha) };
    });
    const kernel = dense.kernel;
    return b.emit([dense.a, ...extras], shape, { kind: "perm", perm: [0, 1] }, ([x, extra]) => {
      // tfjs 4.22 wasm's fused matMul adds the bias wrongly with transposeA: add it apart.
      const fusedBias = transA ? undefined : bias;
      let y = tf.fused.matMul({
        a: x as Tensor2D,
        b: kernel,
        transposeA: transA,
        bias: fusedBias,
      });
      if (bias && !fusedBias) y = tf.add(y, bias);
      return extra ? tf.add(y, tf.mul(extra, beta)) : y;
    });
  }
  const operands = [b.onnxOrder(a), b.onnxOrder(bInput), ...extras];
  return b.emit(operands, shape, { kind: "perm", perm: [0, 1] }, ([x, y, extra]) => {
    let out = tf.mul(tf.matMul(x, y, transA, transB), alpha);
    if (bias) out = tf.add(out, bias);
    return extra ? tf.add(out, tf.mul(extra, beta)) : out;
  });
};

/** MatMul: against a constant 2-D B as a dense layer, else a batched matMul with broadcasting. */
export const compileMatMul: OpCompiler = (b, node, inputs) => {
  const a = b.runtime(b.input(node, inputs, 0));
  const bInput = b.input(node, inputs, 1);
  const bShape = shapeOf(bInput);
  if (bInput.kind === "host" && bShape.length === 2 && a.shape.length >= 1) {
    const [depth, units] = bShape;
    if (a.shape.at(-1) !== depth) b.fail(node, `A [${a.shape}] and B [${bShape}] do not multiply`);
    const { a: left, kernel } = denseKernel(b, a, bInput.tensor, "matmul", (w) => w);
    const lead = a.shape.slice(0, -1);
    return b.emit(
      [left],
      [...lead, units],
      { kind: "perm", perm: identity(lead.length + 1) },
      ([x]) => tf.reshape(tf.matMul(tf.reshape(x, [-1, depth]), kernel), [...lead, units]),
    );
  }
  const ranks = [a.shape.length, bShape.length];
  if (ranks.some((r) => r < 2)) b.fail(node, "1-D operands are only supported against a constant");
  const rank = Math.max(...ranks);
  const expand = (v: Value) => {
    const s = shapeOf(v);
    return [...new Array(rank - s.length).fill(1), ...s];
  };
  const [aShape, bFull] = [expand(a), expand(bInput)];
  if (aShape[rank - 1] !== bFull[rank - 2]) {
    b.fail(node, `A [${a.shape}] and B [${bShape}] do not multiply`);
  }
  const batch = broadcastShapes(b, node, aShape.slice(0, -2), bFull.slice(0, -2));
  const shape = [...batch, aShape[rank - 2], bFull[rank - 1]];
  return b.emit([b.onnxOrder(a), b.onnxOrder(bInput)], shape, {
    kind: "perm",
    perm: identity(rank),
  }, ([x, y]) => tf.matMul(tf.reshape(x, aShape), tf.reshape(y, bFull)));
};
