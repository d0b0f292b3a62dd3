/**
 * Tiles: splitting a strip image whose every row holds one small image (the CIFAR-10 test
 * strip) into those images.
 *
 * @example
 * ```ts
 * import { decodeImage } from "./decode.ts";
 * import { splitImageRows } from "./tiles.ts";
 * const file = "testdata/cifar10-test/test_1000.png";
 * const cifar = splitImageRows(await decodeImage(await Deno.readFile(file), file), 32, 32);
 * console.log(cifar.length, cifar[0].width, cifar[0].height); // 1000 32 32
 * ```
 *
 * @module
 */

import type { RgbImage } from "./rgb_image.ts";

/**
 * Splits an image whose every row holds one small image, row-major, into those images: row i
 * becomes image i of `tileWidth`×`tileHeight` pixels. This is the layout of the CIFAR-10 strip
 * `test_1000.png` (1024×1000, one 32×32 image per row). The tiles share the source's buffer.
 *
 * @param image The strip; its width must be `tileWidth * tileHeight`.
 * @param tileWidth Width of each image.
 * @param tileHeight Height of each image.
 * @returns `image.height` images.
 * @throws {RangeError} When a row does not hold exactly one tile.
 *
 * @example
 * ```ts
 * import { splitImageRows } from "./tiles.ts";
 * // Two rows, each one 2×1 image.
 * const strip = { width: 2, height: 2, data: new Uint8Array(12).map((_, i) => i) };
 * const [first, second] = splitImageRows(strip, 2, 1);
 * console.log(first.data, second.data); // Uint8Array(6) [ 0, 1, 2, 3, 4, 5 ] Uint8Array(6) [ 6, 7, 8, 9, 10, 11 ]
 * ```
 */
export function splitImageRows(image: RgbImage, tileWidth: number, tileHeight: number): RgbImage[] {
  const tilePixels = tileWidth * tileHeight;
  if (!Number.isInteger(tileWidth) || !Number.isInteger(tileHeight) || tilePixels < 1) {
    throw new RangeError(`tile size must be positive integers, got ${tileWidth}×${tileHeight}`);
  }
  if (image.width !== tilePixels) {
    throw new RangeError(
      `image rows are ${image.width} pixels, a ${tileWidth}×${tileHeight} tile needs ${tilePixels}`,
    );
  }
  const rowBytes = tilePixels * 3;
  return Array.from({ length: image.height }, (_, i) => ({
    width: tileWidth,
    height: tileHeight,
    data: image.data.subarray(i * rowBytes, (i + 1) * rowBytes),
  }));
}
