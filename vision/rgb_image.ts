/**
 * The 8-bit RGB image every decoder returns, and the largest image the decoders accept.
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
