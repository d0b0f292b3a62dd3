/**
 * EXIF orientation through the JPEG decoder: every orientation against Pillow's
 * `ImageOps.exif_transpose`, and one turn spelled out pixel by pixel.
 *
 * @module
 */

import { assert, assertEquals } from "@std/assert";
import { decodeJpegImage } from "./jpeg.ts";
import { byteErrors, pixel, readImageFixture } from "../tests/image_fixtures.ts";

async function decodeFixture(file: string) {
  return decodeJpegImage(await readImageFixture(file), file);
}

Deno.test("JPEG: EXIF orientations 1–8 (II and MM byte order) match Pillow's exif_transpose", async () => {
  for (let orientation = 1; orientation <= 8; orientation++) {
    const name = `exif_orientation${orientation}`;
    const image = await decodeFixture(`${name}.jpg`);
    const expectedSize = orientation >= 5 ? [16, 24] : [24, 16];
    assertEquals([image.width, image.height], expectedSize, name);
    // Flat 8×8 blocks at quality 100, 4:4:4: the decoders agree to ±1 (measured 1).
    assert(byteErrors(image.data, await readImageFixture(`${name}.rgb`)).max <= 2, name);
  }
});

Deno.test("JPEG: orientation 6 turns the 24×16 picture 90° clockwise", async () => {
  // The stored picture is 3×2 flat blocks of 8×8: red green blue / yellow cyan near-black.
  const upright = await decodeFixture("exif_orientation1.jpg");
  const turned = await decodeFixture("exif_orientation6.jpg");
  assertEquals([turned.width, turned.height], [16, 24]);
  const near = (a: number[], b: number[]) => a.every((v, i) => Math.abs(v - b[i]) <= 2);
  // A 90° clockwise turn moves source (x, y) to (h - 1 - y, x).
  for (const [x, y] of [[0, 0], [23, 0], [0, 15], [23, 15], [12, 4], [4, 12], [20, 9]]) {
    const expected = pixel(upright, x, y);
    const actual = pixel(turned, 15 - y, x);
    assert(near(actual, expected), `source (${x}, ${y}): ${actual} vs ${expected}`);
  }
  // Block centres spelled out: the bottom-left yellow block is now top-left, red top-right.
  assert(near(pixel(turned, 4, 4), [240, 240, 40]), `${pixel(turned, 4, 4)}`);
  assert(near(pixel(turned, 12, 4), [230, 30, 30]), `${pixel(turned, 12, 4)}`);
  assert(near(pixel(turned, 4, 20), [20, 20, 20]), `${pixel(turned, 4, 20)}`);
  assert(near(pixel(turned, 12, 20), [31, 30, 220]), `${pixel(turned, 12, 20)}`);
});
