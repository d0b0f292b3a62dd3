/**
 * The formats layer: bytes ⇄ named tensors. One reader per format (PyTorch zip and legacy
 * pickles, ONNX, Keras HDF5 / `.keras` / tfjs layers, safetensors, NumPy `.npy`), each returning
 * {@link NamedTensor}s in the layout of the framework that wrote them; one file detector; one
 * whole-file reader and one atomic writer.
 *
 * @example
 * ```ts
 * import { detectFormat, readPytorch } from "@denozoo/zoo/formats";
 * const path = "testdata/cifar10-resnet/resnet20-12fca82f.th";
 * const bytes = await Deno.readFile(path);
 * console.log(detectFormat(bytes, path)); // pytorch-legacy
 * console.log(readPytorch(bytes, path).tensors.length); // 110
 * ```
 *
 * @module
 */

export type { NamedTensor, TensorDType } from "./tensor.ts";
export { detectFormat, type SourceFormat } from "./detect.ts";
export {
  type DeferredChunk,
  type FileChunk,
  joinChunks,
  readWholeFile,
  type ReadWholeFileOptions,
  writeAtomically,
} from "./files.ts";
export { bfloat16BitsToFloat32, float16BitsToFloat32 } from "./float16.ts";
export { type PytorchCheckpoint, readPytorch } from "./pytorch.ts";
export {
  describeStateDict,
  EMA_KEYS,
  findStateDict,
  type FoundStateDict,
  WEIGHT_KEYS,
} from "./pytorch_wrappers.ts";
export { readPickle, type UnpickleOptions, type UnpickleResult } from "./pickle.ts";
export {
  type PickleCallHandler,
  PickleGlobal,
  PickleInstance,
  type PickleObject,
  type PickleValue,
} from "./pickle_values.ts";
export { readZip, type ReadZipOptions } from "./zip.ts";
export {
  readSafetensors,
  safetensorsChunks,
  type SafetensorsFile,
  writeSafetensors,
} from "./safetensors.ts";
export { npyHeader, type NpyRows, openNpy, readNpy, writeNpy } from "./npy.ts";
export {
  type OnnxAttribute,
  type OnnxGraph,
  type OnnxModel,
  type OnnxNode,
  type OnnxValueInfo,
  readOnnx,
  type ReadOnnxOptions,
} from "./onnx.ts";
export { readKeras } from "./keras/read.ts";
export { readShards } from "./keras/tfjs.ts";
export type { KerasFile, KerasFormat, KerasLayerWeights, ReadKerasOptions } from "./keras/types.ts";
