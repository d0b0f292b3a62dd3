/**
 * Networks outside the zoo's specs, run from their own graph on tfjs: any Keras model (.h5,
 * .keras, model.json) or ONNX file built from common layers.
 *
 * @example
 * ```ts
 * import { useBackend } from "../runtime/backend.ts";
 * import { loadGraphModel } from "./graph_model.ts";
 * await useBackend("cpu");
 * const path = "testdata/keras-mlperf-tiny/resnet8_cifar10.h5";
 * const graph = await loadGraphModel(await Deno.readFile(path), path);
 * console.log(graph.layout, graph.classes, graph.inputSize); // nhwc 10 [ 32, 32 ]
 * graph.dispose();
 * ```
 *
 * @module
 */

import type { LayersModel, Tensor } from "../runtime/tensor.ts";
import { detectFormat } from "../formats/detect.ts";
import { ZooFormatError } from "../arch/errors.ts";
import { readShards } from "../formats/keras/tfjs.ts";
import { type OnnxModel, readOnnx } from "../formats/onnx.ts";
import { loadKerasModel } from "./keras/load.ts";
import { loadOnnxGraph } from "./onnx/load.ts";
import { type ModelUsage, onnxUsage } from "../convert/usage_metadata.ts";
import { type BatchCheck, type PreflightInput, wasmPreflight } from "./wasm_preflight.ts";

/**
 * A network outside the zoo's specs, run from its own graph on tfjs.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { useBackend } from "../runtime/backend.ts";
 * import { type GraphModel, loadGraphModel } from "./graph_model.ts";
 * await useBackend("cpu");
 * const path = "testdata/fixtures/nets/tv_basic.onnx";
 * const graph: GraphModel = await loadGraphModel(await Deno.readFile(path), path);
 * console.log(graph.predict(tf.zeros([2, 3, 64, 64])).shape); // [ 2, 10 ]
 * graph.dispose();
 * ```
 */
export interface GraphModel extends GraphShape {
  /** Runs a batch of the rank the graph declares, in the graph's own layout. */
  predict(x: Tensor): Tensor;
  /**
   * On the wasm backend, refuses a batch of this shape (the graph's own layout) whose activations
   * would pass the budget, before it runs (see `wasmPreflight`): `predict` itself does not ask,
   * since measuring a shape the first time is asynchronous. Elsewhere it resolves at once.
   */
  checkBatch: BatchCheck;
  /** Frees the graph's tensors. */
  dispose(): void;
}

/**
 * What a graph declares of its input and output.
 *
 * @example
 * ```ts
 * import { type OnnxModel, readOnnx } from "../formats/onnx.ts";
 * import { describeOnnxGraph, type GraphShape } from "./graph_model.ts";
 * const path = "testdata/fixtures/onnx_ops/view_op9.onnx";
 * const shape: GraphShape = describeOnnxGraph(await readOnnx(await Deno.readFile(path), path), path);
 * console.log(shape);
 * // { layout: "nchw", inputShape: [ "batch", 3, 16, 16 ], classes: 10, inputSize: [ 16, 16 ], outputs: "logits" }
 * ```
 */
export interface GraphShape {
  /**
   * Layout of a 4-D input as the graph declares it: PyTorch's ONNX exports are NCHW, Keras
   * models and tf2onnx exports (a 4-D input whose last dimension is the channels) NHWC.
   */
  layout: "nchw" | "nhwc";
  /** The input shape the file declares, batch first; null or a name where it is free. */
  inputShape: (number | string | null)[];
  /** Output classes (the last output dimension). */
  classes: number;
  /**
   * The input's height and width when the graph declares them (a Keras `Input(32, 32, 3)`, an
   * ONNX input `[N, 3, 224, 224]`): images must be brought to that size.
   */
  inputSize?: [number, number];
  /**
   * What the graph outputs: `probabilities` when it ends in a softmax (a Keras
   * `activation: "softmax"`, an ONNX `Softmax`), which a classifier must not apply again.
   */
  outputs: GraphOutputs;
  /**
   * How the file says to use the model, when it records it (an ONNX file the zoo wrote:
   * preprocessing and class names in its `metadata_props`, see `usage_metadata.ts`).
   */
  usage?: ModelUsage;
}

/**
 * Scores a graph ends in: raw `logits`, or `probabilities` from a final softmax.
 *
 * @example
 * ```ts
 * import type { GraphOutputs } from "./graph_model.ts";
 * const outputs: GraphOutputs = "probabilities";
 * console.log(outputs); // probabilities
 * ```
 */
export type GraphOutputs = "logits" | "probabilities";

/** ONNX operators that move or copy values without changing them. */
const PASS_THROUGH = new Set(["Identity", "Flatten", "Reshape", "Squeeze", "Dropout"]);

/** Whether an ONNX graph's first output is a softmax's, followed back through reshapes. */
function onnxOutputs(onnx: OnnxModel): GraphOutputs {
  const { nodes, outputs } = onnx.graph;
  const producer = new Map(nodes.map((node) => [node.outputs[0], node]));
  let node = producer.get(outputs[0]?.name);
  while (node && PASS_THROUGH.has(node.opType)) node = producer.get(node.inputs[0]);
  return node?.opType === "Softmax" ? "probabilities" : "logits";
}

/**
 * Whether a Keras model's output layer is a softmax: a layer configured with `activation:
 * "softmax"`, a `Softmax` layer, or an `Activation("softmax")`, followed back through
 * reshaping layers.
 */
function kerasOutputs(model: LayersModel): GraphOutputs {
  const reshaping = new Set(["Flatten", "Reshape", "Dropout"]);
  let layer = model.outputLayers[0];
  while (layer && reshaping.has(layer.getClassName())) {
    layer = layer.inboundNodes[0]?.inboundLayers[0];
  }
  if (!layer) return "logits";
  const activation = (layer.getConfig() as { activation?: unknown }).activation;
  return layer.getClassName() === "Softmax" || activation === "softmax"
    ? "probabilities"
    : "logits";
}

/**
 * The layout, classes and input size an ONNX graph declares, whether it ends in a softmax, and
 * the preprocessing and class names it records, read from the file alone (what onnxruntime needs
 * to be told, which runs the graph without tfjs). `file` names the file in errors.
 *
 * @throws {ZooFormatError} For recorded preprocessing or class names that are corrupt, or class
 *   names that do not number the declared classes.
 *
 * @example
 * ```ts
 * import { type OnnxModel, readOnnx } from "../formats/onnx.ts";
 * const path = "testdata/fixtures/onnx_ops/flatten_gemm.onnx";
 * console.log(describeOnnxGraph(await readOnnx(await Deno.readFile(path), path), path).inputSize); // [ 16, 16 ]
 * ```
 */
export function describeOnnxGraph(onnx: OnnxModel, file: string): GraphShape {
  const output = onnx.graph.outputs[0]?.shape ?? [];
  const input = onnx.graph.inputs[0]?.shape ?? [];
  const layout = declaredNhwc(input) ? "nhwc" : "nchw";
  const classes = Number(output[output.length - 1]);
  const usage = onnxUsage(onnx, classes, file);
  return {
    layout,
    inputShape: input,
    classes,
    inputSize: declaredSize(layout === "nhwc" ? input.slice(1, 3) : input.slice(2)),
    outputs: onnxOutputs(onnx),
    // Only a file that records something says so: a third-party graph's shape is as it was.
    ...(Object.keys(usage).length ? { usage } : {}),
  };
}

/** Whether a declared 4-D input is NHWC: its last dimension, not its second, is the channels. */
function declaredNhwc(shape: (number | string)[]): boolean {
  const small = (d: number | string | undefined) => typeof d === "number" && d >= 1 && d <= 4;
  return shape.length === 4 && small(shape[3]) && !small(shape[1]);
}

/** Height and width as a graph declares them, when both are fixed numbers. */
function declaredSize(dims: unknown[]): [number, number] | undefined {
  const [height, width] = dims;
  return typeof height === "number" && height > 0 && typeof width === "number" && width > 0
    ? [height, width]
    : undefined;
}

/**
 * Loads a Keras (.h5, .keras, model.json) or ONNX file as a runnable tfjs graph, for
 * networks that are not one of the zoo's ResNets.
 *
 * @example
 * ```ts
 * import { useBackend } from "../runtime/backend.ts";
 * await useBackend("cpu");
 * const path = "testdata/fixtures/nets/tv_basic.onnx";
 * const graph = await loadGraphModel(await Deno.readFile(path), path);
 * console.log(graph.layout, graph.classes); // nchw 10
 * graph.dispose();
 * ```
 */
export async function loadGraphModel(bytes: Uint8Array, source: string): Promise<GraphModel> {
  const format = detectFormat(bytes, source);
  if (format === "pytorch-zip" || format === "pytorch-legacy" || format === "zoo-safetensors") {
    // The format decides the reader once: weights alone are no graph for the Keras reader to try.
    throw new ZooFormatError(
      source,
      `a ${format} file holds weights, not a graph to run` +
        (format === "zoo-safetensors" ? "" : ": export the network with torch.onnx.export"),
    );
  }
  if (format === "onnx") {
    const onnx = await readOnnx(bytes, source);
    const graph = loadOnnxGraph(onnx, source);
    const shape = describeOnnxGraph(onnx, source);
    const predict = (x: Tensor) => graph.predict(x);
    return {
      ...shape,
      predict,
      checkBatch: wasmPreflight(source, predict, preflightInput(shape)),
      dispose: () => graph.dispose(),
    };
  }
  const shards = source.endsWith(".json") ? readShards(bytes, source) : undefined;
  const layers = await loadKerasModel(bytes, source, { shards });
  const output = layers.outputs[0].shape;
  const shape: GraphShape = {
    layout: "nhwc",
    inputShape: layers.inputs[0].shape,
    classes: output[output.length - 1] as number,
    inputSize: declaredSize(layers.inputs[0].shape.slice(1, 3)),
    outputs: kerasOutputs(layers),
  };
  const predict = (x: Tensor) => layers.predict(x) as Tensor;
  return {
    ...shape,
    predict,
    checkBatch: wasmPreflight(source, predict, preflightInput(shape)),
    dispose: () => void layers.dispose(),
  };
}

/** The layout and the batch (when fixed) a graph declares, for its wasm preflight. */
function preflightInput({ layout, inputShape }: GraphShape): PreflightInput {
  const batch = inputShape[0];
  return { layout, batch: typeof batch === "number" && batch > 0 ? batch : null };
}
