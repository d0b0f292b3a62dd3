/**
 * A generic runner for ONNX CNNs built from common operators, on TensorFlow.js.
 *
 * **Compilation.** The graph is compiled into a flat list of tfjs steps for one concrete input
 * shape. Shape subgraphs (Shape, Gather, Unsqueeze, Concat, Cast, Slice, ConstantOfShape,
 * Range and arithmetic on constants) are evaluated on the host while compiling, so the steps
 * only contain tensor work. A model whose input shape is static is compiled once by
 * {@link loadOnnxGraph}; one with symbolic dimensions (`dim_param`) is compiled on each new
 * input shape and the schedule is cached per shape. Unsupported operators are reported at load
 * time, whatever the input shape.
 *
 * **Layout.** wasm convolutions are NHWC-only, so a 4-D input is transposed to NHWC once at
 * the entry and convolutions, pools and BatchNorm stay NHWC; their weights are converted once
 * (`convert/layout.ts`: OIHW → HWIO, depthwise `[kh, kw, C, multiplier]`). Every runtime tensor
 * carries its layout — the permutation from its ONNX axes to its stored axes — and axis
 * arguments (Concat, Softmax, Slice, Squeeze, Pad, ReduceMean, Gather, Transpose) are remapped
 * through it; constants are permuted on the host to broadcast against NHWC tensors.
 *
 * **Flatten after NHWC.** A Flatten, or a Reshape to `[N, C·H·W]`, of a spatial NHWC tensor
 * yields features in H,W,C order instead of ONNX's C,H,W. The runner keeps that order and, when
 * the consumer is a Gemm or MatMul with a constant weight, permutes the weight's rows once
 * (`chwRowsToHwc`); any other consumer gets the tensor transposed back to C,H,W order first.
 * So the common classifier costs nothing extra and every other use stays correct.
 *
 * A Conv followed by a BatchNormalization (its only consumer) has the BN folded into its
 * weights, and a following Relu, Clip(0, 6), LeakyRelu or Sigmoid runs fused in
 * `tf.fused.conv2d`. Conv padding is always explicit (`[[0,0],[t,b],[l,r],[0,0]]`).
 *
 * The runner's parts: `values.ts` (what a value is while compiling, and its storage layout),
 * `schedule.ts` (the steps a graph compiles to, and their builder), `compile.ts` (compiling and
 * running a schedule), `attributes.ts`, `operators.ts` (the supported operators) and the
 * operators by family in `ops_spatial.ts`, `ops_elementwise.ts`, `ops_shape.ts`,
 * `ops_dense.ts`, `ops_reduce.ts` and `ops_folding.ts`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { useBackend } from "../../runtime/backend.ts";
 * await useBackend("cpu");
 * import { readOnnx } from "../../formats/onnx.ts";
 * import { loadOnnxGraph } from "./load.ts";
 * const file = "testdata/fixtures/nets/tv_basic.onnx";
 * const graph = loadOnnxGraph(await readOnnx(await Deno.readFile(file), file), file);
 * const logits = graph.predict(tf.zeros([2, 3, 64, 64]));
 * console.log(logits.shape); // [ 2, 10 ]
 * graph.dispose();
 * ```
 *
 * @module
 */

import type { Tensor } from "../../runtime/tensor.ts";
import type { OnnxModel, OnnxNode } from "../../formats/onnx.ts";
import { ZooFormatError } from "../../arch/errors.ts";
import { compileSchedule, runSchedule } from "./compile.ts";
import { COMPILERS } from "./operators.ts";
import { constantNodeValue } from "./ops_folding.ts";
import { type LoadedGraph, type OnnxSchedule, WeightCache } from "./schedule.ts";
import { fromNamedTensor, type HostTensor } from "./values.ts";

/**
 * A loaded ONNX graph, ready to run.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { useBackend } from "../../runtime/backend.ts";
 * await useBackend("cpu");
 * import { readOnnx } from "../../formats/onnx.ts";
 * const file = "testdata/fixtures/onnx_ops/view_op9.onnx";
 * const model = await readOnnx(await Deno.readFile(file), file);
 * const graph: OnnxGraphModel = loadOnnxGraph(model, file);
 * console.log(graph.inputShape); // [ "batch", 3, 16, 16 ]
 * const y = graph.predict(tf.zeros([3, 3, 16, 16])); // NCHW in, [3, 10] out
 * graph.dispose();
 * ```
 */
export interface OnnxGraphModel {
  /** The name of the graph input. */
  inputName: string;
  /** The input shape as declared: numbers, `dim_param` names, or `"?"` (NCHW for torch exports). */
  inputShape: (number | string)[];
  /**
   * Runs the graph. `x` is in the model's declared layout (NCHW for 4-D inputs) — transposed
   * once to NHWC at the entry. Returns the first graph output in ONNX layout.
   */
  predict(x: Tensor): Tensor;
  /** Frees the uploaded weights. */
  dispose(): void;
}

/**
 * Prepares an ONNX model for inference on the current tfjs backend. Operators are checked
 * here, and a model with a static input shape is compiled (shape subgraphs folded, weights
 * converted and uploaded) here too; a model with symbolic input dimensions is compiled on
 * each new input shape.
 *
 * @param model The parsed model (`readOnnx` in `formats/onnx.ts`).
 * @param file The model's path, named in errors.
 * @throws {ZooFormatError} If an operator is not supported (naming its type, node and the
 * opset), the graph does not have exactly one non-constant input, or — for static shapes —
 * a node's attributes or constant inputs are unusable.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { useBackend } from "../../runtime/backend.ts";
 * await useBackend("cpu");
 * import { readOnnx } from "../../formats/onnx.ts";
 * const file = "testdata/fixtures/nets/tv_bottleneck_op9.onnx";
 * const graph = loadOnnxGraph(await readOnnx(await Deno.readFile(file), file), file);
 * console.log(graph.inputName, graph.inputShape); // input [ "batch", 3, "height", "width" ]
 * const logits = graph.predict(tf.randomNormal([1, 3, 64, 64]));
 * console.log(logits.shape); // [ 1, 10 ]
 * graph.dispose();
 * ```
 */
export function loadOnnxGraph(model: OnnxModel, file: string): OnnxGraphModel {
  const { graph, opset } = model;
  const unsupported = graph.nodes.filter((node) =>
    (node.domain !== "" && node.domain !== "ai.onnx") ||
    !(Object.hasOwn(COMPILERS, node.opType) || node.opType === "Constant")
  );
  if (unsupported.length) {
    const byType = Map.groupBy(unsupported, (n) => `${n.domain ? `${n.domain}.` : ""}${n.opType}`);
    const list = [...byType].map(([type, nodes]) => {
      const more = nodes.length > 1 ? ` and ${nodes.length - 1} more` : "";
      return `${type} (node '${nodes[0].name || nodes[0].outputs[0]}'${more})`;
    });
    throw new ZooFormatError(
      file,
      `unsupported operator${list.length > 1 ? "s" : ""} at opset ${opset}: ${list.join(", ")}`,
    );
  }
  if (graph.inputs.length !== 1) {
    throw new ZooFormatError(
      file,
      `graph has ${graph.inputs.length} non-constant inputs; exactly one is supported`,
    );
  }
  if (!graph.outputs.length) throw new ZooFormatError(file, "graph has no outputs");
  const [input] = graph.inputs;

  const constants = new Map<string, HostTensor>();
  for (const [name, tensor] of graph.initializers) constants.set(name, fromNamedTensor(tensor));
  const consumers = new Map<string, OnnxNode[]>();
  for (const node of graph.nodes) {
    if (node.opType === "Constant") {
      constants.set(node.outputs[0], constantNodeValue(file, opset, node));
    }
    for (const name of new Set(node.inputs)) {
      if (name) consumers.set(name, [...(consumers.get(name) ?? []), node]);
    }
  }
  const loaded: LoadedGraph = {
    file,
    opset,
    nodes: graph.nodes,
    inputName: input.name,
    outputName: graph.outputs[0].name,
    constants,
    consumers,
    graphOutputs: new Set(graph.outputs.map((o) => o.name)),
    weights: new WeightCache(),
  };

  const schedules = new Map<string, OnnxSchedule>();
  const scheduleFor = (shape: number[]): OnnxSchedule => {
    const key = shape.join(",");
    let schedule = schedules.get(key);
    if (!schedule) schedules.set(key, schedule = compileSchedule(loaded, shape));
    return schedule;
  };
  const declared = input.shape;
  const isStatic = declared.length > 0 && declared.every((d) => typeof d === "number" && d > 0);
  if (isStatic) {
    try {
      scheduleFor(declared as number[]);
    } catch (error) {
      loaded.weights.dispose();
      throw error;
    }
  }

  let disposed = false;
  return {
    inputName: input.name,
    inputShape: [...declared],
    predict(x: Tensor): Tensor {
      if (disposed) throw new Error(`${file}: the model was disposed`);
      const fits = declared.length === 0 ||
        (x.rank === declared.length &&
          declared.every((d, i) => typeof d !== "number" || d <= 0 || d === x.shape[i]));
      if (!fits) {
        throw new Error(
          `${file}: input '${input.name}' is declared [${declared}], got shape [${x.shape}]`,
        );
      }
      return runSchedule(scheduleFor(x.shape), x);
    },
    dispose(): void {
      disposed = true;
      loaded.weights.dispose();
      schedules.clear();
    },
  };
}
