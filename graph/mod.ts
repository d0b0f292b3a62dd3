/**
 * The graph layer: networks outside the zoo's specs, run from their own graph on tfjs. ONNX
 * graphs built from common operators, and Keras models (HDF5, `.keras`, tfjs layers).
 *
 * @example
 * ```ts
 * import { loadGraphModel } from "@denozoo/zoo/graph";
 * import { useBackend } from "@denozoo/zoo/runtime";
 * await useBackend("cpu");
 * const path = "testdata/keras-mlperf-tiny/resnet8_cifar10.h5";
 * const graph = await loadGraphModel(await Deno.readFile(path), path);
 * console.log(graph.layout, graph.classes); // nhwc 10
 * graph.dispose();
 * ```
 *
 * @module
 */

export {
  describeOnnxGraph,
  type GraphModel,
  type GraphOutputs,
  type GraphShape,
  loadGraphModel,
} from "./graph_model.ts";
export { loadOnnxGraph, type OnnxGraphModel } from "./onnx/load.ts";
export { type BatchCheck, type PreflightInput, wasmPreflight } from "./wasm_preflight.ts";
export { loadKerasModel, type LoadKerasModelOptions } from "./keras/load.ts";
export { type LayersModelFiles, saveLayersModel, serializeLayersModel } from "./keras/save.ts";
