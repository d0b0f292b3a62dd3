/**
 * The 8-bit RGB image every decoder returns, and what the decoders share: the pixel limit and
 * its header check, the wrapping of third-party decoder errors, and the copy of interleaved
 * samples into RGB bytes.
 *
 * @example
 * ```ts
 * import { MAX_IMAGE_PIXELS, type RgbImage } from "./rgb_image.ts";
 *
 * const red: RgbImage = { width: 1, height: 1, data: new Uint8Array([255, 0, 0]) };
 * console.log(red.width * red.height <= MAX_IMAGE_PIXELS); // true
 * ```
 *
 * @module
 */

import { ZooFormatError } from "../arch/errors.ts";

/**
 * An 8-bit RGB image.
 *
 * @example
 * ```ts
 * import type { RgbImage } from "./rgb_image.ts";
 * // A 2×1 image: one red pixel, one blue one.
 * const image: RgbImage = { width: 2, height: 1, data: new Uint8Array([255, 0, 0, 0, 0, 255]) };
 * console.log(image.data.length === image.width * image.height * 3); // true
 * ```
 */
export interface RgbImage {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** RGB samples, row-major, 3 bytes per pixel: `width * height * 3` bytes. */
  data: Uint8Array;
}

/**
 * The largest image the decoders accept, in pixels (width × height). It is checked against the
 * header before any pixel buffer is allocated, since a few hundred bytes of compressed data can
 * claim gigapixel dimensions.
 *
 * @example
 * ```ts
 * import { MAX_IMAGE_PIXELS } from "./rgb_image.ts";
 * console.log(`images up to ${MAX_IMAGE_PIXELS / 1e6} MP`); // images up to 100 MP
 * ```
 */
export const MAX_IMAGE_PIXELS: number = 100_000_000;

/**
 * Refuses an empty image or one larger than {@link MAX_IMAGE_PIXELS}, by its header's size.
 *
 * @param file The file's name, for the error.
 * @param format The format's name, for the error ("PNG").
 * @param width Width from the header.
 * @param height Height from the header.
 * @throws {ZooFormatError} When the size is empty or too large.
 *
 * @example
 * ```ts
 * import { checkPixelCount } from "./rgb_image.ts";
 * checkPixelCount("small.png", "PNG", 640, 480); // passes
 * try {
 *   checkPixelCount("huge.png", "PNG", 100_000, 100_000);
 * } catch (error) {
 *   console.log((error as Error).message.startsWith("huge.png: PNG image is 100000×100000")); // true
 * }
 * ```
 */
export function checkPixelCount(file: string, format: string, width: number, height: number): void {
  if (width < 1 || height < 1) {
    throw new ZooFormatError(file, `${format} header gives an empty image (${width}×${height})`);
  }
  if (width * height > MAX_IMAGE_PIXELS) {
    throw new ZooFormatError(
      file,
      `${format} image is ${width}×${height} = ${
        width * height
      } pixels, more than the ${MAX_IMAGE_PIXELS} allowed`,
    );
  }
}

/**
 * Runs a third-party decoder step, turning whatever it throws into a {@link ZooFormatError}.
 *
 * @param file The file's name, for the error.
 * @param what What failed, the start of the error message ("invalid PNG").
 * @param step The decoder call.
 * @returns What the step returns.
 * @throws {ZooFormatError} When the step throws anything.
 *
 * @example
 * ```ts
 * import { decoderStep } from "./rgb_image.ts";
 * try {
 *   decoderStep("x.gif", "invalid GIF", () => {
 *     throw "Invalid GIF 87a/89a header.";
 *   });
 * } catch (error) {
 *   console.log((error as Error).message); // x.gif: invalid GIF: Invalid GIF 87a/89a header.
 * }
 * ```
 */
export function decoderStep<T>(file: string, what: string, step: () => T): T {
  try {
    return step();
  } catch (error) {
    // jpeg-js and omggif throw strings as well as Errors
    throw new ZooFormatError(file, `${what}: ${error instanceof Error ? error.message : error}`);
  }
}

/**
 * Copies the first three samples of each pixel (or the only one, for gray and gray+alpha) into
 * RGB bytes.
 *
 * @param samples The decoded samples, `channels` per pixel.
 * @param pixels The number of pixels.
 * @param channels Samples per pixel: 1 (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA).
 * @param shift Right shift of each sample: 8 for 16-bit samples, keeping the high byte; else 0.
 * @returns `pixels * 3` bytes.
 *
 * @example
 * ```ts
 * import { interleavedToRgb } from "./rgb_image.ts";
 * console.log(interleavedToRgb([10, 20, 30, 255, 40, 50, 60, 0], 2, 4, 0)); // Uint8Array(6) [ 10, 20, 30, 40, 50, 60 ]
 * console.log(interleavedToRgb([7, 255], 1, 2, 0)); // Uint8Array(3) [ 7, 7, 7 ]
 * ```
 */
export function interleavedToRgb(
  samples: ArrayLike<number>,
  pixels: number,
  channels: number,
  shift: number,
): Uint8Array {
  const rgb = new Uint8Array(pixels * 3);
  const colorStep = channels >= 3 ? 1 : 0;
  for (let p = 0, src = 0, dst = 0; p < pixels; p++, src += channels, dst += 3) {
    rgb[dst] = samples[src] >> shift;
    rgb[dst + 1] = samples[src + colorStep] >> shift;
    rgb[dst + 2] = samples[src + 2 * colorStep] >> shift;
  }
  return rgb;
}
