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
 * import * as tf from "@tensorflow/tfjs";
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

export type { LayersModel, Tensor, Tensor2D, Tensor4D } from "./zoo/tensor.ts";
export {
  CIFAR_NAMES,
  getSpec,
  KERAS_NAMES,
  layerName,
  listArchitectures,
  type NamingScheme,
  PRESETS,
  type ResNetSpec,
  TORCHVISION_NAMES,
  withOptionB,
} from "./zoo/spec.ts";
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
} from "./zoo/plan.ts";
export { checkWeights, initialWeights, type Weight, type WeightMap } from "./zoo/weights.ts";
export { createModel, type ModelOptions, type ZooModel } from "./zoo/model.ts";
export {
  buildLayersModel,
  type DataFormat,
  getLayersWeights,
  type LayersModelOptions,
  setLayersWeights,
} from "./zoo/layers.ts";
export { compileInference, foldBatchNorm, type InferenceGraph } from "./zoo/infer.ts";
export {
  type BackendChoice,
  type BackendOptions,
  hardwareGpuAvailable,
  tfjsEngineName,
  useBackend,
  wasmThreadCount,
  webgpuAvailable,
} from "./zoo/backend.ts";
export {
  createEngine,
  type EngineChoice,
  type ImageModel,
  ortEngine,
  ortEngineFromOnnx,
  prefersOrt,
  tfjsEngine,
} from "./zoo/engine.ts";
export {
  createOrtSession,
  ortAvailable,
  type OrtEngine,
  type OrtSessionOptions,
} from "./zoo/ort.ts";
export { measure, type Timing } from "./zoo/bench.ts";
export {
  decodeImage,
  expandImageArgs,
  MAX_IMAGE_PIXELS,
  type RgbImage,
  splitImageRows,
} from "./zoo/image.ts";
export * from "./zoo/preprocess.ts";
export { cifar10Labels, imagenetLabels, type LabelSet, labelsFor } from "./zoo/labels.ts";
export {
  type Classifier,
  classifyFiles,
  classifyImages,
  type ClassifyOptions,
  type ImageResult,
  type Prediction,
  topK,
} from "./zoo/classify.ts";
export {
  DEFAULT_MODEL,
  loadClassifier,
  type LoadOptions,
  type ProvenanceInfo,
  pullWeights,
  readSource,
  type SourceFile,
  toZooFile,
  writeAtomically,
} from "./zoo/load.ts";
export {
  findWeights,
  REGISTRY,
  type WeightsEntry,
  type WeightsHash,
  type WeightsMetrics,
} from "./zoo/registry.ts";
export {
  cacheDir,
  type CacheState,
  type DownloadProgress,
  fetchWeights,
  type FetchWeightsOptions,
  verifyCached,
} from "./zoo/cache.ts";
export {
  type GrowingHasher,
  type HashAlgorithm,
  hashBytes,
  hashFile,
  hashInWorker,
} from "./zoo/hash.ts";
export { type NamedTensor, type TensorDType, ZooFormatError } from "./convert/types.ts";
export {
  detectFormat,
  importBytes,
  type ImportedModel,
  importFile,
  type ImportOptions,
  readShards,
  type SourceFormat,
} from "./convert/import.ts";
export {
  type FormatDefaults,
  type InferOptions,
  type InferredResNet,
  inferResNet,
  KERAS_DEFAULTS,
  NotZooResNetError,
  PYTORCH_DEFAULTS,
  type SourceLayer,
} from "./convert/structure.ts";
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
  type DeferredChunk,
  type FileChunk,
  joinChunks,
  readSafetensors,
  safetensorsChunks,
  type SafetensorsFile,
  writeSafetensors,
} from "./convert/safetensors.ts";
export { readNpy, writeNpy } from "./convert/npy.ts";
export {
  type OnnxAttribute,
  type OnnxGraph,
  type OnnxModel,
  type OnnxNode,
  type OnnxValueInfo,
  readOnnx,
  type ReadOnnxOptions,
} from "./convert/onnx.ts";
export {
  exportOnnx,
  exportOnnxWithExternalData,
  type OnnxExportOptions,
  type OnnxWithExternalData,
} from "./convert/onnx_export.ts";
export { loadOnnxGraph, type OnnxGraphModel } from "./convert/onnx_graph.ts";
export {
  type LayersModelFiles,
  loadKerasModel,
  type LoadKerasModelOptions,
  saveLayersModel,
  serializeLayersModel,
} from "./convert/keras_model.ts";
export { type PytorchCheckpoint, readPytorch } from "./convert/pytorch.ts";
export {
  type KerasFile,
  type KerasFormat,
  type KerasLayerWeights,
  readKeras,
  type ReadKerasOptions,
} from "./convert/keras.ts";
