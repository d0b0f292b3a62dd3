/**
 * What the image decoder tests share: reading the fixtures of testdata/fixtures/images (made by
 * its make_fixtures.py with Pillow) and comparing decoded pixels with Pillow's.
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
