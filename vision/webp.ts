/**
 * WebP decoding (lossy, lossless and extended VP8X files) through libwebp compiled to
 * WebAssembly, to 8-bit RGB with alpha dropped. The canvas size is read from the first chunk
 * and checked before libwebp allocates anything.
 *
 * libwebp reads its .wasm from the package folder when its module is evaluated, so it is loaded
 * on the first WebP decode, not on import: JPEG, PNG and GIF keep working under narrow
 * `--allow-read` permissions, and a decoder that cannot load is reported when a WebP file is
 * decoded.
 *
 * @example
 * ```ts
 * import { decodeWebpImage } from "./webp.ts";
 * const file = "testdata/fixtures/images/webp_lossy.webp";
 * const image = await decodeWebpImage(await Deno.readFile(file), file);
 * console.log(image.width, image.height); // 24 16
 * ```
 *
 * @module
 */

import { ZooFormatError } from "../arch/errors.ts";
import { checkPixelCount, decoderStep, interleavedToRgb, type RgbImage } from "./rgb_image.ts";

/** The part of `@cwasm/webp` used here: RGBA output. */
interface WebpDecoder {
  decode(bytes: Uint8Array): { width: number; height: number; data: Uint8ClampedArray };
}

/** The loaded decoder, or why it could not load; loaded once, on first use. */
let webpDecoder: Promise<WebpDecoder | Error> | undefined;

function loadWebpDecoder(): Promise<WebpDecoder | Error> {
  webpDecoder ??= import("@cwasm/webp").catch((error: Error) => error);
  return webpDecoder;
}

/** Canvas size from the first chunk of a WebP file, read before libwebp allocates anything. */
function webpDimensions(bytes: Uint8Array, file: string): { width: number; height: number } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const chunk = String.fromCharCode(...bytes.subarray(12, 16));
  if (chunk === "VP8 " && bytes.length >= 30) { // lossy: 14-bit sizes after the frame tag
    return { width: view.getUint16(26, true) & 0x3fff, height: view.getUint16(28, true) & 0x3fff };
  }
  if (chunk === "VP8L" && bytes.length >= 25) { // lossless: 14-bit (size - 1) fields
    const bits = view.getUint32(21, true);
    return { width: (bits & 0x3fff) + 1, height: ((bits >> 14) & 0x3fff) + 1 };
  }
  if (chunk === "VP8X" && bytes.length >= 30) { // extended: 24-bit (size - 1) fields
    const u24 = (at: number): number => bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16);
    return { width: u24(24) + 1, height: u24(27) + 1 };
  }
  throw new ZooFormatError(file, `invalid WebP: unknown or truncated first chunk '${chunk}'`);
}

/**
 * Decodes a WebP file (a RIFF container of type "WEBP") to 8-bit RGB; alpha is dropped. The
 * first call loads libwebp.
 *
 * @param bytes The file's contents.
 * @param file The file's name, used in error messages only.
 * @returns The decoded image.
 * @throws {ZooFormatError} When the data is malformed, the image is too large, or the WebP
 *   decoder could not load (read access to its npm package is missing, say).
 *
 * @example
 * ```ts
 * import { decodeWebpImage } from "./webp.ts";
 * const file = "testdata/fixtures/images/webp_lossless_rgba.webp";
 * const image = await decodeWebpImage(await Deno.readFile(file), file);
 * console.log(image.width, image.height, image.data.length); // 7 5 105
 * ```
 */
export async function decodeWebpImage(bytes: Uint8Array, file: string): Promise<RgbImage> {
  const size = webpDimensions(bytes, file);
  checkPixelCount(file, "WebP", size.width, size.height);
  const webp = await loadWebpDecoder();
  if (webp instanceof Error) {
    throw new ZooFormatError(file, `the WebP decoder could not load: ${webp.message}`);
  }
  const { width, height, data } = decoderStep(file, "invalid WebP", () => webp.decode(bytes));
  return { width, height, data: interleavedToRgb(data, width * height, 4, 0) };
}
