/**
 * The convert layer: foreign weights ⇄ the zoo's spec. Importers recognise a ResNet in any
 * supported file by structure (never by names) and return the spec and zoo-layout weights;
 * exporters write the zoo's own safetensors file and ONNX.
 *
 * @example
 * ```ts
 * import { importFile } from "@denozoo/zoo/convert";
 * const { spec, format } = await importFile("testdata/fixtures/nets/tv_basic.onnx");
 * console.log(format, spec.block, spec.depths); // onnx basic [ 2, 1, 1, 1 ]
 * ```
 *
 * @module
 */

export { importBytes, type ImportedModel, importFile, type ImportOptions } from "./import.ts";
export {
  type InferOptions,
  type InferredResNet,
  inferResNet,
  OPTION_A_ASSUMPTION,
  type ShortcutChoice,
} from "./structure.ts";
export {
  checkGraph,
  type GraphMismatch,
  type GraphOp,
  type Pads,
  type SourceGraph,
} from "./source_graph.ts";
export {
  type Fit,
  type FormatDefaults,
  KERAS_DEFAULTS,
  PYTORCH_DEFAULTS,
  type SourceLayer,
} from "./align.ts";
export type { ActivationRange, Calibration, WeightsDType } from "./quantize.ts";
export {
  chwRowsToHwc,
  type Float32Source,
  hwioToOihw,
  identityBatchNorm,
  linearToDense,
  oihwToHwio,
  oiwToWio,
  toWeight,
  transpose,
} from "./layout.ts";
export {
  CONVERTER_VERSION,
  readZooHeader,
  readZooWeights,
  writeZooWeights,
  type ZooFileInfo,
  zooWeightsChunks,
  type ZooWeightsFile,
} from "./zoofile.ts";
export { type ModelUsage, onnxUsage, readUsageMetadata, usageMetadata } from "./usage_metadata.ts";
export {
  exportOnnx,
  exportOnnxWithExternalData,
  type OnnxExportOptions,
  type OnnxWithExternalData,
} from "./onnx_export.ts";
