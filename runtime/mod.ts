/**
 * The runtime layer: a model built from a plan and run. {@link createModel} gives the folded
 * inference path and, on demand, a trainable Keras-named LayersModel; backends (WebGPU, threaded
 * wasm with relaxed SIMD, cpu) start here; engines run a model on tfjs or onnxruntime.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { createModel, useBackend } from "@denozoo/zoo/runtime";
 * await useBackend("wasm");
 * const model = createModel("cifar_resnet20");
 * console.log(model.predict(tf.zeros([1, 32, 32, 3])).shape); // [ 1, 10 ]
 * ```
 *
 * @module
 */

export type { LayersModel, Tensor, Tensor2D, Tensor4D } from "./tensor.ts";
export { createModel, type ModelOptions, type ZooModel } from "./model.ts";
export {
  createFeatureEngine,
  createFeatureModel,
  type FeatureEngine,
  type FeatureModel,
  type FeatureModelOptions,
} from "./features.ts";
export { fileSystem, type IOHandler, registerFileRouters } from "./file_io.ts";
export {
  type ImageBatches,
  type StageTrainingOptions,
  trainingProblem,
  trainLastStages,
} from "./training.ts";
export {
  type EpochStats,
  type LabelledFeatures,
  type TrainedHead,
  trainHead,
  type TrainHeadOptions,
} from "./head.ts";
export { useFastCpuFilterGradient } from "./cpu_gradients.ts";
export {
  buildLayersModel,
  type DataFormat,
  getLayersWeights,
  type LayersModelOptions,
  setLayersWeights,
} from "./layers.ts";
export { compileInference, type InferenceGraph } from "./infer.ts";
export {
  BatchTooLargeError,
  type InputLayout,
  inputMismatch,
  isOutOfMemory,
  WASM_ACTIVATION_BUDGET,
} from "./input_check.ts";
export {
  type BackendChoice,
  type BackendOptions,
  hardwareGpuAvailable,
  startBackendIfNone,
  tfjsEngineName,
  useBackend,
  wasmThreadCount,
  webgpuAvailable,
} from "./backend.ts";
export {
  createEngine,
  type Engine,
  type EngineChoice,
  type EngineOptions,
  ortEngine,
  ortEngineFromOnnx,
  prefersOrt,
  resolveEngine,
  tfjsEngine,
} from "./engine.ts";
export {
  createOrtSession,
  ortAvailable,
  type OrtOutput,
  type OrtSession,
  type OrtSessionOptions,
} from "./ort.ts";
export { measure, type Timing } from "./bench.ts";
export {
  compareLogits,
  type Parity,
  PARITY_TOLERANCE,
  parityHolds,
  type ReferenceRun,
  verificationShape,
  verifyImport,
  verifyOnnxImport,
} from "./parity.ts";
