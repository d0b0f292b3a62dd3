/**
 * Half-precision decoding, in one place for every reader: IEEE 754 float16 (PyTorch `half`,
 * ONNX FLOAT16, safetensors F16, Keras `float16`) and bfloat16, both widened exactly to float32.
 *
 * @example
 * ```ts
 * import { float16ToFloat32 } from "./float16.ts";
 * console.log(float16ToFloat32(0x3c00)); // 1
 * ```
 *
 * @module
 */

/** Exponent and mantissa fields of IEEE half precision (1 sign, 5 exponent, 10 mantissa bits). */
const HALF_EXPONENT_MASK = 0x7c00;
const HALF_MANTISSA_MASK = 0x03ff;

/**
 * Converts IEEE 754 half-precision bit patterns to float32, exactly (every half value,
 * subnormals, infinities and NaN included, is representable in float32).
 *
 * @example
 * ```ts
 * console.log(float16BitsToFloat32(new Uint16Array([0x3c00, 0xc100]))); // Float32Array(2) [ 1, -2.5 ]
 * ```
 */
export function float16BitsToFloat32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = float16ToFloat32(bits[i]);
  return out;
}

/**
 * One half-precision bit pattern as a number.
 *
 * @example
 * ```ts
 * console.log(float16ToFloat32(0xfc00)); // -Infinity
 * ```
 */
export function float16ToFloat32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits & HALF_EXPONENT_MASK) >> 10;
  const mantissa = bits & HALF_MANTISSA_MASK;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1024 + mantissa) * 2 ** (exponent - 25);
}

/**
 * Converts bfloat16 bit patterns to float32: a bfloat16 is the top half of a float32.
 *
 * @example
 * ```ts
 * console.log(bfloat16BitsToFloat32(new Uint16Array([0x3f80, 0xc060]))); // Float32Array(2) [ 1, -3.5 ]
 * ```
 */
export function bfloat16BitsToFloat32(bits: Uint16Array): Float32Array {
  const words = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) words[i] = bits[i] << 16;
  return new Float32Array(words.buffer);
}

/**
 * One bfloat16 bit pattern as a number: a bfloat16 is the top half of a float32.
 *
 * @example
 * ```ts
 * console.log(bfloat16ToFloat32(0x3f80)); // 1
 * ```
 */
export function bfloat16ToFloat32(bits: number): number {
  bfloat16Scratch.setUint32(0, bits << 16);
  return bfloat16Scratch.getFloat32(0);
}

const bfloat16Scratch = new DataView(new ArrayBuffer(4));
