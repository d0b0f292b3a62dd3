/**
 * PNG decoding through fast-png, every colour type and bit depth to 8-bit RGB; the header's
 * size is checked against the compressed data before the decoder allocates the image.
 *
 * @example
 * ```ts
 * import { decodePngImage } from "./png.ts";
 * const file = "testdata/cifar10-test/test_1000.png";
 * const strip = decodePngImage(await Deno.readFile(file), file);
 * console.log(strip.width, strip.height); // 1024 1000
 * ```
 *
 * @module
 */

import { decode as decodePng } from "fast-png";
import { ZooFormatError } from "../arch/errors.ts";
import { checkPixelCount, decoderStep, interleavedToRgb, type RgbImage } from "./rgb_image.ts";

/**
 * Decodes a PNG file (starting with the PNG signature) to 8-bit RGB. 16-bit samples keep their
 * high byte (as Pillow does), 1/2/4-bit gray is scaled to 0–255, palettes are looked up, alpha
 * is dropped.
 *
 * @param bytes The file's contents.
 * @param file The file's name, used in error messages only.
 * @returns The decoded image.
 * @throws {ZooFormatError} When the data is malformed or the image is too large.
 *
 * @example
 * ```ts
 * import { decodePngImage } from "./png.ts";
 * const file = "testdata/fixtures/images/png_gray1.png";
 * const image = decodePngImage(await Deno.readFile(file), file);
 * console.log(image.width, image.height, image.data.length); // 7 5 105
 * ```
 */
export function decodePngImage(bytes: Uint8Array, file: string): RgbImage {
  // IHDR must be the first chunk: length (4) and "IHDR" (4) after the 8-byte signature.
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 33 || view.getUint32(12) !== 0x49484452) {
    throw new ZooFormatError(file, "invalid PNG: IHDR chunk missing at offset 8");
  }
  checkPixelCount(file, "PNG", view.getUint32(16), view.getUint32(20));
  checkPngDataSize(bytes, view, file);
  const { width, height, depth, channels, data, palette } = decoderStep(
    file,
    "invalid PNG",
    () => decodePng(bytes),
  );
  const pixels = width * height;
  const expected = depth < 8 ? Math.ceil((width * depth) / 8) * height : pixels * channels;
  if (data.length < expected) {
    throw new ZooFormatError(
      file,
      `invalid PNG: image data has ${data.length} samples, ${width}×${height} needs ${expected}`,
    );
  }
  // Colour type 3 decodes to one channel of indices; truecolour files may carry a PLTE too,
  // as a mere suggestion, which must not be applied.
  if (palette && channels === 1) {
    const indices = depth < 8 ? unpackSubByteSamples(data, width, height, depth) : data;
    const rgb = new Uint8Array(pixels * 3);
    for (let p = 0; p < pixels; p++) {
      const color = palette[indices[p]];
      if (!color) {
        throw new ZooFormatError(
          file,
          `invalid PNG: pixel ${p} uses palette index ${
            indices[p]
          }, the palette has ${palette.length} entries`,
        );
      }
      rgb[p * 3] = color[0];
      rgb[p * 3 + 1] = color[1];
      rgb[p * 3 + 2] = color[2];
    }
    return { width, height, data: rgb };
  }
  if (depth < 8) {
    const levels = unpackSubByteSamples(data, width, height, depth);
    const scale = 255 / ((1 << depth) - 1); // 255, 85 or 17: exact integers
    for (let p = 0; p < pixels; p++) levels[p] *= scale;
    return { width, height, data: interleavedToRgb(levels, pixels, 1, 0) };
  }
  return { width, height, data: interleavedToRgb(data, pixels, channels, depth === 16 ? 8 : 0) };
}

/** Samples per pixel of each PNG colour type. */
const PNG_CHANNELS: Readonly<Record<number, number>> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/**
 * The image data (all IDAT chunks) is zlib-compressed, and deflate expands at most about 1032:1;
 * an IHDR claiming more pixel bytes than that is corrupt. Checked before the decoder allocates
 * the whole image.
 */
function checkPngDataSize(bytes: Uint8Array, view: DataView, file: string): void {
  const width = view.getUint32(16);
  const height = view.getUint32(20);
  const bitsPerPixel = bytes[24] * (PNG_CHANNELS[bytes[25]] ?? 1);
  const pixelBytes = height * Math.ceil((width * bitsPerPixel) / 8);
  let compressed = 0;
  for (let at = 8; at + 12 <= bytes.length;) {
    const length = view.getUint32(at);
    if (view.getUint32(at + 4) === 0x49444154) compressed += length; // "IDAT"
    at += 12 + length;
  }
  if (pixelBytes > 1032 * compressed + 1024) {
    throw new ZooFormatError(
      file,
      `invalid PNG: ${compressed} bytes of image data cannot hold the ${pixelBytes} bytes of a ` +
        `${width}×${height} image`,
    );
  }
}

/** Unpacks 1-, 2- or 4-bit single-channel samples; each row starts on a byte boundary. */
function unpackSubByteSamples(
  packed: ArrayLike<number>,
  width: number,
  height: number,
  depth: number,
): Uint8Array {
  const out = new Uint8Array(width * height);
  const rowBytes = Math.ceil((width * depth) / 8);
  const mask = (1 << depth) - 1;
  for (let y = 0, p = 0; y < height; y++) {
    for (let x = 0; x < width; x++, p++) {
      const bit = x * depth;
      out[p] = (packed[y * rowBytes + (bit >> 3)] >> (8 - depth - (bit & 7))) & mask;
    }
  }
  return out;
}
