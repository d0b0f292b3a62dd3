/**
 * Elementwise operators: activations (which a Conv fuses when it is their only input) and
 * Add/Sub/Mul/Div with ONNX broadcasting, folded on the host when both operands are constants.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { useBackend } from "../../runtime/backend.ts";
 * await useBackend("cpu");
 * import { hardSigmoid } from "./ops_elementwise.ts";
 * console.log(hardSigmoid(0.2, 0.5)(tf.tensor1d([-5, 0, 5])).arraySync()); // [ 0, 0.5, 1 ]
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import type { Tensor } from "../../runtime/tensor.ts";
import type { OnnxNode } from "../../formats/onnx.ts";
import { numberAttr, scalarOf } from "./attributes.ts";
import { type Inputs, nodeInputs, type OpCompiler, type ScheduleBuilder } from "./schedule.ts";
import {
  hostBroadcast,
  type HostTensor,
  identity,
  newData,
  permOf,
  product,
  type RuntimeValue,
  sameNumbers,
  shapeOf,
  type Value,
} from "./values.ts";

/** The activations tfjs's fused convolutions apply. */
export type Activation = "relu" | "relu6" | "leakyrelu" | "sigmoid";

/** A Clip's bounds: attributes before opset 11, optional constant inputs from then on. */
export function clipBounds(b: ScheduleBuilder, node: OnnxNode, inputs: Inputs): [number, number] {
  if (b.graph.opset < 11) {
    return [
      numberAttr(b, node, "min", -3.4028234663852886e38),
      numberAttr(b, node, "max", 3.4028234663852886e38),
    ];
  }
  const bound = (index: number, fallback: number) =>
    inputs[index]
      ? scalarOf(b, node, b.hostInput(node, inputs, index, "bound"), "bound")
      : fallback;
  return [bound(1, -3.4028234663852886e38), bound(2, 3.4028234663852886e38)];
}

/** The activation after `name` that a fused conv can apply, if its only reader is one. */
export function fusableActivation(
  b: ScheduleBuilder,
  name: string,
): { node: OnnxNode; activation: Activation; alpha: number } | undefined {
  const next = b.soleConsumer(name);
  if (!next || next.inputs[0] !== name) return undefined;
  switch (next.opType) {
    case "Relu":
      return { node: next, activation: "relu", alpha: 0 };
    case "Sigmoid":
      return { node: next, activation: "sigmoid", alpha: 0 };
    case "LeakyRelu":
      return { node: next, activation: "leakyrelu", alpha: numberAttr(b, next, "alpha", 0.01) };
    case "Clip": {
      const inputs = nodeInputs(b, next);
      if (inputs.slice(1).some((v) => v && v.kind !== "host")) return undefined;
      const [low, high] = clipBounds(b, next, inputs);
      return low === 0 && high === 6 ? { node: next, activation: "relu6", alpha: 0 } : undefined;
    }
  }
  return undefined;
}

/** An elementwise unary operator that keeps its input's layout. */
export function unary(
  make: (b: ScheduleBuilder, node: OnnxNode, inputs: Inputs) => (x: Tensor) => Tensor,
): OpCompiler {
  return (b, node, inputs) => {
    const x = b.runtime(b.input(node, inputs, 0));
    const apply = make(b, node, inputs);
    return b.emit([x], x.shape, x.layout, ([t]) => apply(t));
  };
}

/** ONNX's HardSigmoid: max(0, min(1, alpha·x + beta)). */
export function hardSigmoid(alpha: number, beta: number): (x: Tensor) => Tensor {
  return (x) => tf.clipByValue(tf.add(tf.mul(x, alpha), beta), 0, 1);
}

/** The shape two operands broadcast to (numpy rules), or a failure naming the node. */
export function broadcastShapes(
  b: ScheduleBuilder,
  node: OnnxNode,
  a: number[],
  c: number[],
): number[] {
  const rank = Math.max(a.length, c.length);
  return Array.from({ length: rank }, (_, i) => {
    const x = a[a.length - rank + i] ?? 1;
    const y = c[c.length - rank + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) b.fail(node, `shapes [${a}] and [${c}] do not broadcast`);
    return x === 1 ? y : x;
  });
}

const HOST_ARITHMETIC: Record<string, (x: number, y: number, integer: boolean) => number> = {
  Add: (x, y) => x + y,
  Sub: (x, y) => x - y,
  Mul: (x, y) => x * y,
  Div: (x, y, integer) => (integer ? Math.trunc(x / y) : x / y),
};

const TF_ARITHMETIC: Record<string, (x: Tensor, y: Tensor) => Tensor> = {
  Add: tf.add,
  Sub: tf.sub,
  Mul: tf.mul,
  Div: tf.div,
};

/**
 * Add/Sub/Mul/Div with ONNX broadcasting. Both operands are brought to one layout: that of
 * a full-rank permuted operand (constants are permuted on the host, lower-rank tensors get
 * leading unit axes), or ONNX order.
 */
export const compileArithmetic: OpCompiler = (b, node, inputs) => {
  const operands = [b.input(node, inputs, 0), b.input(node, inputs, 1)];
  const shape = broadcastShapes(b, node, shapeOf(operands[0]), shapeOf(operands[1]));
  if (operands[0].kind === "host" && operands[1].kind === "host") {
    const [x, y] = operands.map((v) => hostBroadcast((v as { tensor: HostTensor }).tensor, shape));
    const integer = x.integer && y.integer;
    const op = HOST_ARITHMETIC[node.opType];
    const data = newData(integer, product(shape));
    for (let i = 0; i < data.length; i++) data[i] = op(x.data[i], y.data[i], integer);
    return { kind: "host", tensor: { shape, data, integer } };
  }
  const runtimes = operands.filter((v): v is RuntimeValue => v.kind === "runtime");
  const features = runtimes[0].layout;
  const keepFeatures = features.kind === "hwcFeatures" && shape.length === 2 &&
    operands.every((v) =>
      v.kind === "host"
        ? (v.tensor.shape.at(-1) ?? 1) === 1
        : JSON.stringify(v.layout) === JSON.stringify(features)
    );
  const op = TF_ARITHMETIC[node.opType];
  if (keepFeatures) {
    return b.emit(operands.map((v) => b.runtime(v)), shape, features, ([x, y]) => op(x, y));
  }
  const rank = shape.length;
  const permuted = runtimes.find((v) =>
    v.layout.kind === "perm" && v.shape.length === rank &&
    !sameNumbers(v.layout.perm, identity(rank))
  );
  const perm = permuted ? permOf(permuted) : identity(rank);
  const aligned = operands.map((v) => broadcastOperand(b, v, rank, perm));
  return b.emit(aligned, shape, { kind: "perm", perm: [...perm] }, ([x, y]) => op(x, y));
};

/** An operand of a rank-`rank` broadcast, stored with `perm`. */
function broadcastOperand(
  b: ScheduleBuilder,
  v: Value,
  rank: number,
  perm: number[],
): RuntimeValue {
  const expanded = [...new Array(rank - shapeOf(v).length).fill(1), ...shapeOf(v)];
  if (v.kind === "host") {
    return b.constantValue(b.upload(v.tensor, rank, perm), expanded, { kind: "perm", perm });
  }
  if (v.shape.length === rank) return b.inLayout(v, perm);
  const onnx = b.onnxOrder(v);
  // tfjs broadcasting right-aligns ranks by itself; only a permuted layout needs the unit axes.
  if (sameNumbers(perm, identity(rank))) return onnx;
  const reshaped = b.emit(
    [onnx],
    expanded,
    { kind: "perm", perm: identity(rank) },
    ([t]) => tf.reshape(t, expanded),
  );
  return b.inLayout(reshaped, perm);
}
