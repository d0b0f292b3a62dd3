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
 * const model = await createModel("resnet50", { includeTop: false, pooling: "avg" });
 * console.log(model.predict(tf.zeros([1, 224, 224, 3])).shape); // [ 1, 2048 ]
 * ```
 *
 * @example Pretrained weights by id, as a backbone or with a new head
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { createModel, useBackend } from "@denozoo/zoo";
 * await useBackend("wasm");
 * const backbone = await createModel("cifar_resnet20.cifar10", { features: {} });
 * console.log(backbone.featureInfo.map((f) => f.channels)); // [ 16, 32, 64 ]
 * const mine = await createModel("cifar_resnet20", { pretrained: true, classes: 2 });
 * console.log(mine.predict(tf.zeros([1, 32, 32, 3])).shape); // [ 1, 2 ]
 * ```
 *
 * @example Embeddings of images, for search or a classifier of your own
 * ```ts
 * import { embedFiles, loadEmbedder } from "@denozoo/zoo";
 * const embedder = await loadEmbedder("cifar_resnet20.cifar10");
 * const { data, dimensions } = await embedFiles(embedder, ["testdata/images/cat.jpg"]);
 * console.log(data.length, dimensions); // 64 64
 * ```
 *
 * @example Import pretrained weights by structure
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { createModel, importFile, useBackend } from "@denozoo/zoo";
 * await useBackend("wasm");
 * const { spec, weights } = await importFile("testdata/fixtures/nets/tv_basic.onnx");
 * const model = await createModel(spec, { weights, dataFormat: "channels_first" });
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
export type { ModelOptions, ZooModel } from "./runtime/model.ts";
export {
  type CreateFeatureOptions,
  createModel,
  type CreateOptions,
  type PretrainedOptions,
} from "./pipelines/create.ts";
export type { FeatureModel, FeatureModelOptions } from "./runtime/features.ts";
export type { FeatureInfo, FeatureOptions } from "./arch/features.ts";
export type { DataFormat } from "./runtime/layers.ts";

// Backends and engines.
export { type BackendChoice, type BackendOptions, useBackend } from "./runtime/backend.ts";
export {
  createEngine,
  type Engine,
  type EngineChoice,
  type EngineOptions,
} from "./runtime/engine.ts";

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
export {
  type DecodedFile,
  decodeFiles,
  decodeInWorkers,
  type DecodeStage,
} from "./pipelines/decode_stage.ts";
export {
  type Embedder,
  type EmbedderOptions,
  type EmbedFailure,
  embedFiles,
  type EmbedFilesOptions,
  embedImages,
  type FileEmbeddings,
  loadEmbedder,
} from "./pipelines/embed.ts";
export {
  finetune,
  finetunedZooFile,
  type FinetuneOptions,
  type FinetuneResult,
} from "./pipelines/finetune.ts";
export { decodeImage } from "./vision/decode.ts";
export type { RgbImage } from "./vision/rgb_image.ts";
export { preprocessImages } from "./vision/preprocess.ts";
export { PREPROCESS_PRESETS, type PreprocessSpec } from "./arch/preprocess.ts";
export { type Labels, type LabelSet, labelsFor } from "./arch/labels.ts";

// Pretrained weights: import, export, registry.
export {
  importBytes,
  type ImportedModel,
  importFile,
  type ImportOptions,
} from "./convert/import.ts";
export { exportOnnx, type OnnxExportOptions } from "./convert/onnx_export.ts";
export type { ModelUsage } from "./convert/usage_metadata.ts";
export type { ActivationRange, Calibration, WeightsDType } from "./convert/quantize.ts";
export {
  readZooWeights,
  writeZooWeights,
  type ZooFileInfo,
  type ZooWeightsFile,
} from "./convert/zoofile.ts";
export { findWeights, REGISTRY, type WeightsEntry } from "./hub/registry.ts";
export { type PullOptions, pullWeights } from "./pipelines/pull.ts";
export { type GraphModel, type GraphOutputs, loadGraphModel } from "./graph/graph_model.ts";

// Errors.
export { NotZooResNetError, ZooFormatError } from "./arch/errors.ts";
export { BatchTooLargeError } from "./runtime/input_check.ts";
