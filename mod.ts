/**
 * denozoo: the ResNet family for Deno on TensorFlow.js — every standard architecture as
 * data, pretrained weights imported from PyTorch, ONNX, Keras and safetensors with
 * parity to the framework that trained them, and a classifier in three lines.
 *
 * This module is the everyday API. The layers beneath it have their own entry points for
 * advanced use: `@denozoo/zoo/arch` (specs, plans, weights), `/formats` (file readers and
 * writers), `/convert` (import and export), `/runtime` (backends, engines, LayersModels),
 * `/graph` (foreign networks run from their own graph), `/hub` (registry and cache) and
 * `/vision` (decoding and preprocessing).
 *
 * @example Classify an image with the bundled CIFAR-10 ResNet-20
 * ```ts
 * import { classifyFiles, loadClassifier } from "@denozoo/zoo";
 * const classifier = await loadClassifier();
 * const [result] = await classifyFiles(classifier, ["testdata/images/cat.jpg"], { top: 3 });
 * console.log(result.predictions[0].label); // cat
 * ```
 *
 * @example Build any architecture and run it
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { createModel, useBackend } from "@denozoo/zoo";
 * await useBackend("wasm");
 * const model = createModel("resnet50", { includeTop: false, pooling: "avg" });
 * console.log(model.predict(tf.zeros([1, 224, 224, 3])).shape); // [ 1, 2048 ]
 * ```
 *
 * @example Import pretrained weights by structure
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { createModel, importFile, useBackend } from "@denozoo/zoo";
 * await useBackend("wasm");
 * const { spec, weights } = await importFile("testdata/fixtures/nets/tv_basic.onnx");
 * const model = createModel(spec, { weights, dataFormat: "channels_first" });
 * console.log(model.predict(tf.zeros([2, 3, 64, 64])).shape); // [ 2, 10 ]
 * ```
 *
 * @module
 */

export type { LayersModel, Tensor, Tensor2D, Tensor4D } from "./runtime/tensor.ts";

// Architectures and models.
export type { NamingScheme, ResNetSpec } from "./arch/spec.ts";
export { getSpec, listArchitectures, PRESETS } from "./arch/presets.ts";
export type { Weight, WeightMap } from "./arch/weights.ts";
export { createModel, type ModelOptions, type ZooModel } from "./runtime/model.ts";
export type { DataFormat } from "./runtime/layers.ts";

// Backends and engines.
export { type BackendChoice, type BackendOptions, useBackend } from "./runtime/backend.ts";
export { createEngine, type Engine, type EngineChoice } from "./runtime/engine.ts";

// Classification.
export { loadClassifier, type LoadOptions } from "./pipelines/load.ts";
export {
  type Classifier,
  classifyFiles,
  classifyImages,
  type ClassifyImagesOptions,
  type ClassifyOptions,
  classifyStream,
  type ImageResult,
  type Prediction,
} from "./pipelines/classify.ts";
export { type DecodedFile, decodeFiles, type DecodeStage } from "./pipelines/decode_stage.ts";
export { decodeImage } from "./vision/decode.ts";
export type { RgbImage } from "./vision/rgb_image.ts";
export { preprocessImages } from "./vision/preprocess.ts";
export { PREPROCESS_PRESETS, type PreprocessSpec } from "./arch/preprocess.ts";
export { type LabelSet, labelsFor } from "./arch/labels.ts";

// Pretrained weights: import, export, registry.
export {
  importBytes,
  type ImportedModel,
  importFile,
  type ImportOptions,
} from "./convert/import.ts";
export { exportOnnx, type OnnxExportOptions } from "./convert/onnx_export.ts";
export {
  readZooWeights,
  writeZooWeights,
  type ZooFileInfo,
  type ZooWeightsFile,
} from "./convert/zoofile.ts";
export { findWeights, REGISTRY, type WeightsEntry } from "./hub/registry.ts";
export { pullWeights } from "./pipelines/pull.ts";
export { type GraphModel, type GraphOutputs, loadGraphModel } from "./graph/graph_model.ts";

// Errors.
export { NotZooResNetError, ZooFormatError } from "./arch/errors.ts";
export { BatchTooLargeError } from "./runtime/input_check.ts";
