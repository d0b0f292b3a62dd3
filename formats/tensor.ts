/**
 * Shared types of the weight readers: every importer turns its format into
 * {@link NamedTensor}s in the layout of the framework that wrote them.
 *
 * @module
 */

/**
 * Element types of a {@link NamedTensor}. Readers decode weights to float32 and return the first
 * five only; `float16` (IEEE half bit patterns in a Uint16Array) and `int8` are for writing the
 * zoo's smaller files.
 */
export type TensorDType = "float32" | "int32" | "int64" | "uint8" | "bool" | "float16" | "int8";

/** One tensor read from a file, in the source framework's layout (OIHW for PyTorch/ONNX, HWIO for Keras). */
export interface NamedTensor {
  /** The tensor's name in the source file, e.g. `layer1.0.conv1.weight` or `conv1_conv/kernel:0`. */
  name: string;
  /** Dimensions, outermost first. */
  shape: number[];
  /** Element type of {@link NamedTensor.data}. */
  dtype: TensorDType;
  /** Row-major elements. float16/bfloat16/float64 sources are widened or narrowed to float32. */
  data: Float32Array | Int32Array | BigInt64Array | Uint8Array | Uint16Array | Int8Array;
  /**
   * For float32 data that lies in the file's buffer: those little-endian bytes (a view). Readers
   * that set it decode {@link NamedTensor.data} on first access, so a layout change that reads
   * these bytes directly (`transpose` in `layout.ts`) spares a copy of the tensor.
   */
  littleEndian?: Uint8Array;
  /**
   * For a float32 tensor to be written whose data is computed on first read: writes the elements
   * into the start of `target` instead (see `Weight.writeInto`), so that `safetensorsChunks`
   * never has the tensor computed and kept.
   */
  writeInto?: (target: Float32Array) => void;
}
