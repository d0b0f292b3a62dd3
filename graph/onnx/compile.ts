/**
 * Compiling an ONNX graph for one input shape into an {@link OnnxSchedule}, node by node through
 * the operators' compilers, and running a schedule on tfjs.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { useBackend } from "../../runtime/backend.ts";
 * await useBackend("cpu");
 * import { compileSchedule, runSchedule } from "./compile.ts";
 * import { WeightCache } from "./schedule.ts";
 * const relu = {
 *   name: "r",
 *   opType: "Relu",
 *   domain: "",
 *   inputs: ["x"],
 *   outputs: ["y"],
 *   attributes: {},
 * };
 * const graph = {
 *   file: "relu.onnx",
 *   opset: 13,
 *   nodes: [relu],
 *   inputName: "x",
 *   outputName: "y",
 *   constants: new Map(),
 *   consumers: new Map([["x", [relu]]]),
 *   graphOutputs: new Set(["y"]),
 *   weights: new WeightCache(),
 * };
 * const schedule = compileSchedule(graph, [3]);
 * console.log(runSchedule(schedule, tf.tensor1d([-1, 0, 2])).arraySync()); // [ 0, 0, 2 ]
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import type { Tensor } from "../../runtime/tensor.ts";
import { ZooFormatError } from "../../arch/errors.ts";
import { COMPILERS } from "./operators.ts";
import { type LoadedGraph, type OnnxSchedule, ScheduleBuilder } from "./schedule.ts";
import { identity, NHWC, type RuntimeValue } from "./values.ts";

/**
 * Compiles the graph for one input shape: shape subgraphs are folded on the host, every other
 * node becomes steps of the schedule (a Conv absorbs the BatchNormalization and activation it
 * fuses).
 *
 * @throws {ZooFormatError} If a node's attributes or constant inputs are unusable for this shape.
 */
export function compileSchedule(graph: LoadedGraph, inputShape: number[]): OnnxSchedule {
  const b = new ScheduleBuilder(graph);
  const inputSlot = b.newSlot();
  const entry: RuntimeValue = {
    kind: "runtime",
    slot: inputSlot,
    shape: inputShape,
    layout: { kind: "perm", perm: identity(inputShape.length) },
  };
  b.values.set(graph.inputName, inputShape.length === 4 ? b.inLayout(entry, NHWC) : entry);
  for (const [name, tensor] of graph.constants) b.values.set(name, { kind: "host", tensor });
  for (const node of graph.nodes) {
    if (b.absorbed.has(node) || node.opType === "Constant") continue;
    const inputs = node.inputs.map((name) => {
      if (!name) return undefined;
      const value = b.values.get(name);
      if (!value) b.fail(node, `input '${name}' is not produced by any earlier node`);
      return value;
    });
    for (const extra of node.outputs.slice(1)) {
      if (extra && (graph.consumers.get(extra)?.length || graph.graphOutputs.has(extra))) {
        b.fail(node, `output '${extra}' is used, but only the first output is supported`);
      }
    }
    b.values.set(node.outputs[0], COMPILERS[node.opType](b, node, inputs));
  }
  const result = b.values.get(graph.outputName);
  if (!result) {
    throw new ZooFormatError(graph.file, `graph output '${graph.outputName}' is never produced`);
  }
  return b.finish(result, inputSlot);
}

/** Runs a schedule on `x`; the result is a fresh tensor the caller owns. */
export function runSchedule(schedule: OnnxSchedule, x: Tensor): Tensor {
  return tf.tidy(() => {
    const slots = new Array<Tensor | undefined>(schedule.slotCount);
    slots[schedule.inputSlot] = x.dtype === "float32" ? x : tf.cast(x, "float32");
    for (const [slot, tensor] of schedule.constants) slots[slot] = tensor;
    schedule.steps.forEach((step, i) => {
      const args = step.inputs.map((slot) => slots[slot]!);
      slots[step.output] = tf.tidy(() => step.run(args));
      for (const slot of schedule.release[i]) {
        slots[slot]!.dispose();
        slots[slot] = undefined;
      }
    });
    return slots[schedule.outputSlot]!;
  });
}
