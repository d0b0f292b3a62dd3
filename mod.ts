/**
 * denozoo: the ResNet family for Deno on TensorFlow.js — every standard architecture as
 * data, pretrained weights imported from PyTorch, ONNX, Keras and safetensors with
 * parity to the framework that trained them, and a classifier in three lines.
 *
 * @example Classify an image with the bundled CIFAR-10 ResNet-20
 * ```ts
 * import { classifyFiles, loadClassifier } from "@denozoo/zoo";
 * const classifier = await loadClassifier();
 * const [result] = await classifyFiles(classifier, ["cat.png"], { top: 3 });
 * console.log(result.predictions);
 * ```
 *
 * @example Build any architecture and run it
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { createModel, useBackend } from "@denozoo/zoo";
 * await useBackend("auto"); // webgpu, else wasm, else cpu
 * const model = createModel("resnet50", { includeTop: false, pooling: "avg" });
 * const features = model.predict(tf.zeros([1, 224, 224, 3])); // [1, 2048]
 * ```
 *
 * @example Import pretrained weights by structure
 * ```ts
 * import { createModel, importFile } from "@denozoo/zoo";
 * const { spec, weights } = await importFile("resnet18.onnx");
 * const model = createModel(spec, { weights, dataFormat: "channels_first" });
 * ```
 *
 * @module
 */

export type { LayersModel, Tensor, Tensor2D, Tensor4D } from "./runtime/tensor.ts";
export {
  CIFAR_NAMES,
  KERAS_NAMES,
  layerName,
  type NamingScheme,
  type ResNetSpec,
  TORCHVISION_NAMES,
} from "./arch/spec.ts";
export { getSpec, listArchitectures, PRESETS, withOptionB } from "./arch/presets.ts";
export {
  type AddNode,
  type BatchNormNode,
  type ConvNode,
  countParams,
  type DenseNode,
  type GlobalPoolNode,
  type InputNode,
  type MaxPoolNode,
  type PadChannelsNode,
  type ParamCounts,
  type Plan,
  type PlanNode,
  type PlanOptions,
  planResNet,
  type ReluNode,
  type SubsampleNode,
  type WeightSlot,
  weightSlots,
} from "./arch/plan.ts";
export { checkWeights, initialWeights, type Weight, type WeightMap } from "./arch/weights.ts";
export { createModel, type ModelOptions, type ZooModel } from "./runtime/model.ts";
export {
  buildLayersModel,
  type DataFormat,
  getLayersWeights,
  type LayersModelOptions,
  setLayersWeights,
} from "./runtime/layers.ts";
export { compileInference, type InferenceGraph } from "./runtime/infer.ts";
export { foldBatchNorm } from "./arch/fold.ts";
export {
  type BackendChoice,
  type BackendOptions,
  hardwareGpuAvailable,
  tfjsEngineName,
  useBackend,
  wasmThreadCount,
  webgpuAvailable,
} from "./runtime/backend.ts";
export {
  createEngine,
  type Engine,
  type EngineChoice,
  ortEngine,
  ortEngineFromOnnx,
  prefersOrt,
  tfjsEngine,
} from "./runtime/engine.ts";
export {
  createOrtSession,
  ortAvailable,
  type OrtSession,
  type OrtSessionOptions,
} from "./runtime/ort.ts";
export { measure, type Timing } from "./runtime/bench.ts";
export { decodeImage } from "./vision/decode.ts";
export { expandImageArgs } from "./vision/paths.ts";
export { MAX_IMAGE_PIXELS, type RgbImage } from "./vision/rgb_image.ts";
export { splitImageRows } from "./vision/tiles.ts";
export * from "./vision/preprocess.ts";
export { cifar10Labels, imagenetLabels, type LabelSet, labelsFor } from "./arch/labels.ts";
export {
  type Classifier,
  classifyFiles,
  classifyImages,
  type ClassifyOptions,
  type ImageResult,
  type Prediction,
  topK,
} from "./pipelines/classify.ts";
export { loadClassifier, type LoadOptions } from "./pipelines/load.ts";
export { DEFAULT_MODEL } from "./pipelines/bundled.ts";
export { type ProvenanceInfo, toZooFile } from "./pipelines/provenance.ts";
export { pullWeights } from "./pipelines/pull.ts";
export { readSource, type SourceFile } from "./hub/source.ts";
export { writeAtomically } from "./formats/files.ts";
export {
  findWeights,
  REGISTRY,
  type WeightsEntry,
  type WeightsHash,
  type WeightsMetrics,
} from "./hub/registry.ts";
export {
  cacheDir,
  type CacheState,
  fetchWeights,
  type FetchWeightsOptions,
  verifyCached,
} from "./hub/cache.ts";
export { type DownloadProgress } from "./hub/download.ts";
export {
  type GrowingHasher,
  type HashAlgorithm,
  hashBytes,
  hashFile,
  hashInWorker,
} from "./hub/hash.ts";
export { type NamedTensor, type TensorDType } from "./formats/tensor.ts";
export { ZooFormatError } from "./arch/errors.ts";
export {
  importBytes,
  type ImportedModel,
  importFile,
  type ImportOptions,
} from "./convert/import.ts";
export { readShards } from "./formats/keras/tfjs.ts";
export { detectFormat, type SourceFormat } from "./formats/detect.ts";
export {
  type FormatDefaults,
  type InferOptions,
  type InferredResNet,
  inferResNet,
  KERAS_DEFAULTS,
  PYTORCH_DEFAULTS,
  type SourceLayer,
} from "./convert/structure.ts";
export { NotZooResNetError } from "./arch/errors.ts";
export {
  chwRowsToHwc,
  type Float32Source,
  hwioToOihw,
  identityBatchNorm,
  linearToDense,
  oihwToHwio,
  toWeight,
  transpose,
} from "./convert/layout.ts";
export {
  readZooWeights,
  writeZooWeights,
  type ZooFileInfo,
  zooWeightsChunks,
  type ZooWeightsFile,
} from "./convert/zoofile.ts";
export {
  readSafetensors,
  safetensorsChunks,
  type SafetensorsFile,
  writeSafetensors,
} from "./formats/safetensors.ts";
export { type DeferredChunk, type FileChunk, joinChunks } from "./formats/files.ts";
export { readNpy, writeNpy } from "./formats/npy.ts";
export {
  type OnnxAttribute,
  type OnnxGraph,
  type OnnxModel,
  type OnnxNode,
  type OnnxValueInfo,
  readOnnx,
  type ReadOnnxOptions,
} from "./formats/onnx.ts";
export {
  exportOnnx,
  exportOnnxWithExternalData,
  type OnnxExportOptions,
  type OnnxWithExternalData,
} from "./convert/onnx_export.ts";
export { loadOnnxGraph, type OnnxGraphModel } from "./graph/onnx/load.ts";
export { loadKerasModel, type LoadKerasModelOptions } from "./graph/keras/load.ts";
export {
  type LayersModelFiles,
  saveLayersModel,
  serializeLayersModel,
} from "./graph/keras/save.ts";
export { type PytorchCheckpoint, readPytorch } from "./formats/pytorch.ts";
export { readKeras } from "./formats/keras/read.ts";
export {
  type KerasFile,
  type KerasFormat,
  type KerasLayerWeights,
  type ReadKerasOptions,
} from "./formats/keras/types.ts";
