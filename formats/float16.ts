/**
 * Half precision in one place: decoding for every reader — IEEE 754 float16 (PyTorch `half`,
 * ONNX FLOAT16, safetensors F16, Keras `float16`) and bfloat16, both widened exactly to float32 —
 * and the encoder of the zoo's float16 files (float32 rounded to the nearest half, ties to even).
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

const encodeScratch = new Float32Array(1);
const encodeBits = new Uint32Array(encodeScratch.buffer);

/** `bits >>> shift`, rounded to nearest with ties to even (shift ≥ 1). */
function shiftRoundingEven(bits: number, shift: number): number {
  const kept = bits >>> shift;
  const rest = bits & ((1 << shift) - 1);
  const halfway = 1 << (shift - 1);
  return rest > halfway || (rest === halfway && (kept & 1)) ? kept + 1 : kept;
}

/**
 * One number as the nearest IEEE 754 half-precision bit pattern (ties to even, as IEEE
 * conversion and numpy's `astype(float16)` round): magnitudes beyond 65504 become infinity,
 * those below 2^-25 zero, and NaN stays NaN. A carry out of the mantissa moves into the exponent,
 * which is the right result.
 *
 * @example
 * ```ts
 * console.log(float32ToFloat16(1), float32ToFloat16(-2.5), float32ToFloat16(1e6)); // 15360 49408 31744
 * ```
 */
export function float32ToFloat16(value: number): number {
  encodeScratch[0] = value;
  const bits = encodeBits[0];
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | HALF_EXPONENT_MASK | (mantissa ? 0x200 : 0);
  const halfExponent = exponent - 127 + 15;
  if (halfExponent >= 0x1f) return sign | HALF_EXPONENT_MASK;
  if (halfExponent <= 0) {
    // A subnormal half (or zero): the full significand, implicit 1 included, in units of 2^-24.
    if (halfExponent < -10) return sign;
    return sign | shiftRoundingEven(mantissa | 0x800000, 14 - halfExponent);
  }
  return sign | ((halfExponent << 10) + shiftRoundingEven(mantissa, 13));
}

/**
 * Float32 values as half-precision bit patterns, each rounded by {@link float32ToFloat16}.
 *
 * @example
 * ```ts
 * const bits = float32ToFloat16Bits(new Float32Array([1, 0.1]));
 * console.log(bits, float16BitsToFloat32(bits)); // Uint16Array(2) [ 15360, 11878 ] Float32Array(2) [ 1, 0.0999755859375 ]
 * ```
 */
export function float32ToFloat16Bits(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = float32ToFloat16(values[i]);
  return out;
}
