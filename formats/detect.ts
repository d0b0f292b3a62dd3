/**
 * File detection, in one place: which format a weights file is, told by its first bytes (and,
 * for JSON and protobuf, which carry no magic, by its name). Every reader that needs to tell
 * formats apart asks here.
 *
 * @example
 * ```ts
 * import { detectFormat } from "./detect.ts";
 * const path = "models/cifar_resnet20.safetensors";
 * console.log(detectFormat(await Deno.readFile(path), path)); // zoo-safetensors
 * ```
 *
 * @module
 */

import { ZooFormatError } from "../arch/errors.ts";

/** Weight-file formats the importers recognise. */
export type SourceFormat =
  | "pytorch-zip"
  | "pytorch-legacy"
  | "onnx"
  | "keras-h5"
  | "keras3"
  | "tfjs-layers"
  | "zoo-safetensors";

/** A zip archive's local file header (torch ≥ 1.6 checkpoints, Keras 3 `.keras`). */
export const ZIP_SIGNATURE: readonly number[] = [0x50, 0x4b, 0x03, 0x04];

/** The HDF5 superblock signature (Keras 2 `.h5`). */
export const HDF5_SIGNATURE: readonly number[] = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

/** Pickle protocol 2 followed by the legacy torch magic number as a LONG1 (torch < 1.6). */
const TORCH_LEGACY_SIGNATURE: readonly number[] = [
  0x80,
  0x02,
  0x8a,
  0x0a,
  0x6c,
  0xfc,
  0x9c,
  0x46,
  0xf9,
  0x20,
  0x6a,
  0xa8,
  0x50,
  0x19,
];

/**
 * Whether `bytes` starts with `signature`.
 *
 * @example
 * ```ts
 * console.log(startsWithSignature(new Uint8Array([0x50, 0x4b, 3, 4, 9]), ZIP_SIGNATURE)); // true
 * ```
 */
export function startsWithSignature(bytes: Uint8Array, signature: readonly number[]): boolean {
  return bytes.length >= signature.length && signature.every((byte, i) => bytes[i] === byte);
}

/**
 * Recognises a weights file by its first bytes (and, for JSON and protobuf, its name).
 *
 * @example
 * ```ts
 * const path = "testdata/cifar10-resnet/resnet20-12fca82f.th";
 * console.log(detectFormat(await Deno.readFile(path), path)); // pytorch-legacy
 * ```
 */
export function detectFormat(bytes: Uint8Array, file: string): SourceFormat {
  if (startsWithSignature(bytes, TORCH_LEGACY_SIGNATURE)) return "pytorch-legacy";
  if (startsWithSignature(bytes, HDF5_SIGNATURE)) return "keras-h5";
  if (startsWithSignature(bytes, ZIP_SIGNATURE)) {
    const text = new TextDecoder("latin1").decode(
      bytes.subarray(0, Math.min(bytes.length, 1 << 16)),
    );
    return text.includes("data.pkl") ? "pytorch-zip" : "keras3";
  }
  if (
    bytes.length > 8 && bytes[8] === 0x7b &&
    new DataView(bytes.buffer, bytes.byteOffset).getUint32(4, true) === 0
  ) {
    return "zoo-safetensors";
  }
  if (/\.json$/i.test(file)) return "tfjs-layers";
  if (/\.onnx$/i.test(file) || bytes[0] === 0x08) return "onnx";
  throw new ZooFormatError(
    file,
    "unrecognised file: expected ONNX, PyTorch, Keras (.h5/.keras/model.json) or safetensors",
  );
}
