/**
 * Raw little-endian tensor elements: the element encodings the readers share (named as
 * safetensors names them), one decoder for them, and float32 tensors left in their file's bytes
 * until first read.
 *
 * @example
 * ```ts
 * import { decodeLittleEndian } from "./raw.ts";
 * console.log(decodeLittleEndian("F16", new Uint8Array([0x00, 0x3c]))); // Float32Array(1) [ 1 ]
 * ```
 *
 * @module
 */

import type { NamedTensor, TensorDType } from "./tensor.ts";
import { bfloat16BitsToFloat32, float16BitsToFloat32 } from "./float16.ts";

/**
 * The number of elements of a tensor with the given dimensions (1 for a scalar).
 *
 * @example
 * ```ts
 * elementCount([64, 3, 7, 7]); // 9408
 * ```
 */
export function elementCount(shape: readonly number[]): number {
  return shape.reduce((count, dim) => count * dim, 1);
}

/**
 * Element encodings of raw little-endian tensor bytes, named as safetensors names them. The npy
 * and ONNX readers map their own type codes onto these names to share one decoder.
 */
export type RawDType =
  | "F32"
  | "F16"
  | "BF16"
  | "F64"
  | "I64"
  | "I32"
  | "I16"
  | "U16"
  | "I8"
  | "U8"
  | "BOOL";

/** Bytes per element of each {@link RawDType}, and the {@link TensorDType} it decodes to. */
export const RAW_DTYPES: Readonly<
  Record<RawDType, { bytesPerElement: number; dtype: TensorDType }>
> = {
  F32: { bytesPerElement: 4, dtype: "float32" },
  F16: { bytesPerElement: 2, dtype: "float32" },
  BF16: { bytesPerElement: 2, dtype: "float32" },
  F64: { bytesPerElement: 8, dtype: "float32" },
  I64: { bytesPerElement: 8, dtype: "int64" },
  I32: { bytesPerElement: 4, dtype: "int32" },
  I16: { bytesPerElement: 2, dtype: "int32" },
  U16: { bytesPerElement: 2, dtype: "int32" },
  I8: { bytesPerElement: 1, dtype: "int32" },
  U8: { bytesPerElement: 1, dtype: "uint8" },
  BOOL: { bytesPerElement: 1, dtype: "bool" },
};

/** Whether a dtype name is one of the {@link RawDType}s. */
export function isRawDType(name: string): name is RawDType {
  return Object.hasOwn(RAW_DTYPES, name);
}

/**
 * Decodes little-endian element bytes to a fresh array of the {@link NamedTensor} element type
 * (F16/BF16/F64 become float32, I16/U16/I8 int32). The caller has checked that `raw.length` is
 * the element count times {@link RAW_DTYPES}`[dtype].bytesPerElement`.
 *
 * The bytes are copied first because a typed-array view needs an offset that is a multiple of
 * its element size, which a slice of a file rarely has; the view then reads them in the host's
 * byte order, little-endian on every platform Deno runs on.
 *
 * @example
 * ```ts
 * decodeLittleEndian("F16", new Uint8Array([0x00, 0x3c])); // Float32Array [1]
 * ```
 */
export function decodeLittleEndian(dtype: RawDType, raw: Uint8Array): NamedTensor["data"] {
  // Uint8Array's own slice: a Node Buffer's `slice` returns a view, not a copy.
  const copy = Uint8Array.prototype.slice.call(raw);
  switch (dtype) {
    case "F32":
      return new Float32Array(copy.buffer);
    case "F16":
      return float16BitsToFloat32(new Uint16Array(copy.buffer));
    case "BF16":
      return bfloat16BitsToFloat32(new Uint16Array(copy.buffer));
    case "F64":
      return Float32Array.from(new Float64Array(copy.buffer));
    case "I64":
      return new BigInt64Array(copy.buffer);
    case "I32":
      return new Int32Array(copy.buffer);
    case "I16":
      return Int32Array.from(new Int16Array(copy.buffer));
    case "U16":
      return Int32Array.from(new Uint16Array(copy.buffer));
    case "I8":
      return Int32Array.from(new Int8Array(copy.buffer));
    case "U8":
    case "BOOL":
      return copy;
  }
}

/**
 * A float32 tensor over its little-endian bytes in a file's buffer: `littleEndian` is those
 * bytes, and `data` decodes them (once) on first access. Layout changes read the bytes in
 * place, so a kernel that is transposed anyway is never copied first.
 *
 * @example
 * ```ts
 * const t = lazyFloat32Tensor("w", [1], new Uint8Array([0, 0, 0x80, 0x3f]));
 * console.log(t.data); // Float32Array [1]
 * ```
 */
export function lazyFloat32Tensor(name: string, shape: number[], bytes: Uint8Array): NamedTensor {
  let data: Float32Array | undefined;
  return {
    name,
    shape,
    dtype: "float32",
    littleEndian: bytes,
    get data(): Float32Array {
      data ??= decodeLittleEndian("F32", bytes) as Float32Array;
      return data;
    },
  };
}

/**
 * A float32 tensor's elements as a view of its file's bytes (no copy), when a reader left them
 * there ({@link NamedTensor.littleEndian}) at a 4-aligned offset; else `undefined`. Deno runs on
 * little-endian hosts only, so those bytes are the host's float32s.
 *
 * @example
 * ```ts
 * const t = lazyFloat32Tensor("w", [1], new Uint8Array([0, 0, 0x80, 0x3f]));
 * console.log(alignedFloat32View(t)); // Float32Array [1], over the same bytes
 * ```
 */
export function alignedFloat32View(
  tensor: Pick<NamedTensor, "littleEndian">,
): Float32Array | undefined {
  const bytes = tensor.littleEndian;
  if (!bytes || bytes.byteOffset % 4 !== 0 || bytes.length % 4 !== 0) return undefined;
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
}
