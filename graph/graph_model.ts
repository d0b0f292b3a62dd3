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
 * console.log(graph.layout, graph.classes); // nhwc 10
 * graph.dispose();
 * ```
 *
 * @module
 */

import type { LayersModel, Tensor, Tensor4D } from "../runtime/tensor.ts";
import { detectFormat } from "../formats/detect.ts";
import { readShards } from "../formats/keras/tfjs.ts";
import { type OnnxModel, readOnnx } from "../formats/onnx.ts";
import { loadKerasModel } from "./keras/load.ts";
import { loadOnnxGraph } from "./onnx/load.ts";

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
export interface GraphModel {
  /** Input layout the graph declares: ONNX exports are NCHW, Keras models NHWC. */
  layout: "nchw" | "nhwc";
  /** Output classes (the last output dimension). */
  classes: number;
  /** Input channels the graph declares, when it declares them. */
  channels?: number;
  /**
   * What the graph outputs: `probabilities` when it ends in a softmax (a Keras
   * `activation: "softmax"`, an ONNX `Softmax`), which a classifier must not apply again.
   */
  outputs: GraphOutputs;
  /** Runs a batch in the graph's own layout. */
  predict(x: Tensor4D): Tensor;
  /** Frees the graph's tensors. */
  dispose(): void;
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

/** Operators that move or copy values without changing them. */
const PASS_THROUGH = new Set(["Identity", "Flatten", "Reshape", "Squeeze", "Dropout"]);

/**
 * What an ONNX graph declares about its input and output: classes (the output's last
 * dimension), input channels (NCHW), and whether the output is a softmax's (followed back
 * through reshapes and identities).
 *
 * @example
 * ```ts
 * import { type OnnxModel, readOnnx } from "../formats/onnx.ts";
 * const path = "testdata/fixtures/onnx_ops/pools_op13.onnx";
 * console.log(onnxGraphInfo(await readOnnx(await Deno.readFile(path), path)));
 * // { classes: 10, channels: 3, outputs: "probabilities" }
 * ```
 */
export function onnxGraphInfo(
  onnx: OnnxModel,
): { classes: number; channels?: number; outputs: GraphOutputs } {
  const { nodes, inputs, outputs } = onnx.graph;
  const shape = outputs[0]?.shape ?? [];
  const producer = new Map(nodes.map((node) => [node.outputs[0], node]));
  let node = producer.get(outputs[0]?.name);
  while (node && PASS_THROUGH.has(node.opType)) node = producer.get(node.inputs[0]);
  const channels = inputs[0]?.shape[1];
  return {
    classes: Number(shape[shape.length - 1]),
    ...(typeof channels === "number" ? { channels } : {}),
    outputs: node?.opType === "Softmax" ? "probabilities" : "logits",
  };
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
  if (detectFormat(bytes, source) === "onnx") {
    const onnx = await readOnnx(bytes, source);
    const graph = loadOnnxGraph(onnx, source);
    return {
      layout: "nchw",
      ...onnxGraphInfo(onnx),
      predict: (x) => graph.predict(x),
      dispose: () => graph.dispose(),
    };
  }
  const shards = source.endsWith(".json") ? readShards(bytes, source) : undefined;
  const layers = await loadKerasModel(bytes, source, { shards });
  const shape = layers.outputs[0].shape;
  const channels = layers.inputs[0].shape[3];
  return {
    layout: "nhwc",
    classes: shape[shape.length - 1] as number,
    ...(typeof channels === "number" ? { channels } : {}),
    outputs: kerasOutputs(layers),
    predict: (x) => layers.predict(x) as Tensor,
    dispose: () => void layers.dispose(),
  };
}
