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

import type { Tensor } from "../runtime/tensor.ts";
import { detectFormat } from "../formats/detect.ts";
import { readShards } from "../formats/keras/tfjs.ts";
import { readOnnx } from "../formats/onnx.ts";
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
  /**
   * Layout of a 4-D input as the graph declares it: PyTorch's ONNX exports are NCHW, Keras
   * models and tf2onnx exports (a 4-D input whose last dimension is the channels) NHWC.
   */
  layout: "nchw" | "nhwc";
  /** The input shape the file declares, batch first; null or a name where it is free. */
  inputShape: (number | string | null)[];
  /** Output classes (the last output dimension). */
  classes: number;
  /** Runs a batch of the rank the graph declares, in the graph's own layout. */
  predict(x: Tensor): Tensor;
  /** Frees the graph's tensors. */
  dispose(): void;
}

/** Whether a declared 4-D ONNX input is NHWC: its last dimension, not its second, is the channels. */
function declaredNhwc(shape: (number | string)[]): boolean {
  const small = (d: number | string | undefined) => typeof d === "number" && d >= 1 && d <= 4;
  return shape.length === 4 && small(shape[3]) && !small(shape[1]);
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
    const output = onnx.graph.outputs[0]?.shape ?? [];
    return {
      layout: declaredNhwc(graph.inputShape) ? "nhwc" : "nchw",
      inputShape: graph.inputShape,
      classes: Number(output[output.length - 1]),
      predict: (x) => graph.predict(x),
      dispose: () => graph.dispose(),
    };
  }
  const shards = source.endsWith(".json") ? readShards(bytes, source) : undefined;
  const layers = await loadKerasModel(bytes, source, { shards });
  const shape = layers.outputs[0].shape;
  return {
    layout: "nhwc",
    inputShape: layers.inputs[0].shape,
    classes: shape[shape.length - 1] as number,
    predict: (x) => layers.predict(x) as Tensor,
    dispose: () => void layers.dispose(),
  };
}
