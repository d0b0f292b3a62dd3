/**
 * What the image decoder tests share: reading the fixtures of testdata/fixtures/images (made by
 * its make_fixtures.py with Pillow), comparing decoded pixels with Pillow's, and keeping a patched
 * PNG header valid.
 *
 * @module
 */

import { assertEquals } from "@std/assert";
import type { RgbImage } from "../vision/rgb_image.ts";

const IMAGE_FIXTURES = new URL("../testdata/fixtures/images/", import.meta.url);

/** Reads a file of testdata/fixtures/images: an image, or Pillow's RGB bytes of one (`.rgb`). */
export function readImageFixture(name: string): Promise<Uint8Array> {
  return Deno.readFile(new URL(name, IMAGE_FIXTURES));
}

/** Largest absolute difference, and the mean one, between two equally long byte arrays. */
export function byteErrors(
  actual: Uint8Array,
  expected: Uint8Array,
): { max: number; mean: number } {
  assertEquals(actual.length, expected.length);
  let max = 0;
  let sum = 0;
  for (let i = 0; i < actual.length; i++) {
    const e = Math.abs(actual[i] - expected[i]);
    max = Math.max(max, e);
    sum += e;
  }
  return { max, mean: sum / actual.length };
}

/** The RGB values of the pixel at (x, y). */
export function pixel(image: RgbImage, x: number, y: number): number[] {
  const at = (y * image.width + x) * 3;
  return [...image.data.subarray(at, at + 3)];
}

/**
 * The CRC-32 of a PNG chunk's type and data (reflected polynomial 0xedb88320, as zip and gzip
 * use), so that a test which patches a header keeps the chunk valid.
 */
export function crc32(bytes: Uint8Array): number {
  let crc = ~0;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
  }
  return ~crc >>> 0;
}
