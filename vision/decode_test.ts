/**
 * The decoder (libvips through sharp) against Pillow: every fixture of
 * testdata/fixtures/images (every PNG colour type and bit depth, GIF, WebP, EXIF orientations
 * 1–8, AVIF and TIFF) and the shared photos decode to Pillow's bytes; malformed and oversized
 * files are refused naming the file.
 *
 * @module
 */

import { assert, assertEquals, assertRejects } from "@std/assert";
import { ZooFormatError } from "../arch/errors.ts";
import { TORCHVISION_V1 } from "../arch/preprocess.ts";
import { decodeForModel, decodeImage, sniffImageFormat } from "./decode.ts";
import { byteErrors, crc32, pixel, readImageFixture } from "../tests/image_fixtures.ts";

const SHARED = new URL("../testdata/", import.meta.url);

async function decodeFixture(file: string) {
  return await decodeImage(await readImageFixture(file), file);
}

Deno.test("every PNG colour type and bit depth, GIF, WebP, AVIF and TIFF decode to Pillow's RGB exactly", async () => {
  const cases: [string, string, number, number][] = [
    ["png_rgb8.png", "png_rgb8", 7, 5], // colour type 2
    ["png_rgba8.png", "png_rgba8", 7, 5], // 6, alpha dropped
    ["png_rgb8_adam7.png", "png_rgb8_adam7", 7, 5], // interlaced
    ["png_rgb16.png", "png_rgb16", 7, 5], // 16-bit: high byte kept
    ["png_rgba16.png", "png_rgba16", 7, 5],
    ["png_gray8.png", "png_gray8", 7, 5], // 0
    ["png_gray16.png", "png_gray16", 7, 5],
    ["png_graya8.png", "png_graya8", 7, 5], // 4
    ["png_gray1.png", "png_gray1", 7, 5], // 1/2/4-bit gray scaled by 255, 85, 17
    ["png_gray2.png", "png_gray2", 7, 5],
    ["png_gray4.png", "png_gray4", 7, 5],
    ["png_palette8.png", "png_palette8", 7, 5], // 3
    ["png_palette4_trns.png", "png_palette4_trns", 7, 5], // palette with tRNS alpha
    ["png_palette1.png", "png_palette1", 7, 5],
    ["gif_two_frames.gif", "gif_two_frames", 7, 5], // the first of two frames
    ["webp_lossless_rgba.webp", "webp_lossless_rgba", 7, 5], // VP8L
    ["webp_lossy.webp", "webp_lossy", 24, 16], // VP8
    ["webp_lossy_alpha.webp", "webp_lossy_alpha", 24, 16], // VP8X
    // Lossless re-encodings of png_rgb8.png (make_avif_tiff.ts): Pillow's pixels of that PNG.
    ["avif_lossless.avif", "png_rgb8", 7, 5],
    ["tiff_lzw.tif", "png_rgb8", 7, 5],
  ];
  for (const [file, expected, width, height] of cases) {
    const image = await decodeFixture(file);
    assertEquals([image.width, image.height], [width, height], file);
    assertEquals(image.data, await readImageFixture(`${expected}.rgb`), file);
  }
});

Deno.test("JPEG: the shared photos decode to Pillow's bytes (libjpeg-turbo on both sides)", async () => {
  const cases = [
    { name: "cat", width: 480, height: 360, x: 208, y: 148 },
    { name: "grace_hopper", width: 517, height: 606, x: 226, y: 271 },
    { name: "fish-bike", width: 481, height: 323, x: 208, y: 130 }, // 4:2:0: fancy upsampling
  ];
  for (const { name, width, height, x, y } of cases) {
    const file = new URL(`images/${name}.jpg`, SHARED);
    const image = await decodeImage(await Deno.readFile(file), file.pathname);
    assertEquals([image.width, image.height], [width, height], name);
    const crop = new Uint8Array(64 * 64 * 3);
    for (let row = 0; row < 64; row++) {
      const start = ((y + row) * width + x) * 3;
      crop.set(image.data.subarray(start, start + 64 * 3), row * 64 * 3);
    }
    assertEquals(crop, await readImageFixture(`${name}_x${x}_y${y}_64x64.rgb`), name);
  }
});

Deno.test("JPEG: EXIF orientations 1–8 (II and MM byte order) match Pillow's exif_transpose", async () => {
  for (let orientation = 1; orientation <= 8; orientation++) {
    const name = `exif_orientation${orientation}`;
    const image = await decodeFixture(`${name}.jpg`);
    assertEquals([image.width, image.height], orientation >= 5 ? [16, 24] : [24, 16], name);
    assertEquals(byteErrors(image.data, await readImageFixture(`${name}.rgb`)).max, 0, name);
  }
});

Deno.test("JPEG: orientation 6 turns the 24×16 picture 90° clockwise", async () => {
  // The stored picture is 3×2 flat blocks of 8×8: red green blue / yellow cyan near-black.
  const upright = await decodeFixture("exif_orientation1.jpg");
  const turned = await decodeFixture("exif_orientation6.jpg");
  assertEquals([turned.width, turned.height], [16, 24]);
  // A 90° clockwise turn moves source (x, y) to (h - 1 - y, x).
  for (const [x, y] of [[0, 0], [23, 0], [0, 15], [23, 15], [12, 4], [4, 12], [20, 9]]) {
    assertEquals(pixel(turned, 15 - y, x), pixel(upright, x, y), `source (${x}, ${y})`);
  }
  // Block centres spelled out (JPEG at quality 100 keeps flat blocks within ±2): the bottom-left
  // yellow block is now top-left, red top-right.
  const near = (a: number[], b: number[]) => a.every((v, i) => Math.abs(v - b[i]) <= 2);
  assert(near(pixel(turned, 4, 4), [240, 240, 40]), `${pixel(turned, 4, 4)}`);
  assert(near(pixel(turned, 12, 4), [230, 30, 30]), `${pixel(turned, 12, 4)}`);
  assert(near(pixel(turned, 4, 20), [20, 20, 20]), `${pixel(turned, 4, 20)}`);
  assert(near(pixel(turned, 12, 20), [30, 30, 220]), `${pixel(turned, 12, 20)}`);
});

Deno.test("decodeForModel applies the orientation before the geometry", async () => {
  // Orientation 6 stores the picture 24×16 and shows it 16×24: resize 16 keeps it, crop 16 takes
  // the middle rows 4–19 of the upright picture.
  const bytes = await readImageFixture("exif_orientation6.jpg");
  const input = await decodeForModel(bytes, "o6.jpg", { resize: 16, crop: 16, mode: "raw" });
  const upright = await decodeFixture("exif_orientation6.jpg");
  assertEquals([input.width, input.height], [16, 16]);
  assertEquals(input.data, upright.data.subarray(4 * 16 * 3, 20 * 16 * 3));
  const photo = await decodeForModel(await readImageFixture("exif_orientation8.jpg"), "o8.jpg", {
    ...TORCHVISION_V1,
  });
  assertEquals([photo.width, photo.height], [224, 224]);
});

Deno.test("the format is told by magic bytes, whatever the name says", async () => {
  const cases: [string, string][] = [
    ["exif_orientation6.jpg", "jpeg"],
    ["png_palette4_trns.png", "png"],
    ["gif_two_frames.gif", "gif"],
    ["webp_lossy_alpha.webp", "webp"],
    ["avif_lossless.avif", "avif"],
    ["tiff_lzw.tif", "tiff"],
  ];
  for (const [fixture, format] of cases) {
    const bytes = await readImageFixture(fixture);
    assertEquals(sniffImageFormat(bytes, "image.bin"), format);
    assertEquals(await decodeImage(bytes, "image.bin"), await decodeFixture(fixture), fixture);
  }
});

Deno.test("corrupt, truncated, unknown and oversized files raise ZooFormatError naming the file", async () => {
  const cat = await Deno.readFile(new URL("images/cat.jpg", SHARED));
  const png = await readImageFixture("png_rgb8.png");
  const gif = await readImageFixture("gif_two_frames.gif");
  const webp = await readImageFixture("webp_lossy.webp");
  // A valid header (its CRC fixed) claiming 100000×100000 pixels: refused from the header.
  const hugePng = png.slice();
  const ihdr = new DataView(hugePng.buffer);
  ihdr.setUint32(16, 100_000);
  ihdr.setUint32(20, 100_000);
  ihdr.setUint32(29, crc32(hugePng.subarray(12, 29)));
  const badPngData = png.slice();
  badPngData[45] ^= 0xff; // inside the IDAT zlib stream
  const cases: [string, Uint8Array, RegExp][] = [
    ["empty.jpg", new Uint8Array(0), /empty file/],
    [
      "text.png",
      new TextEncoder().encode("<!DOCTYPE html>"),
      /not a JPEG, PNG, GIF, WebP, AVIF or TIFF image.*3c 21 44/,
    ],
    ["bitmap.jpg", new Uint8Array([0x42, 0x4d, 0, 0, 0, 0]), /not a JPEG, PNG, GIF, WebP/],
    ["cat_header.jpg", cat.subarray(0, 600), /invalid JPEG image: .*premature end/],
    ["cat_half.jpg", cat.subarray(0, cat.length / 2), /invalid JPEG image: corrupt or truncated/],
    ["short.png", png.subarray(0, 20), /invalid PNG image/],
    ["cut.png", png.subarray(0, 60), /invalid PNG image/],
    ["flipped.png", badPngData, /invalid PNG image: corrupt or truncated/],
    ["huge.png", hugePng, /PNG image is 100000×100000 = 10000000000 pixels, more than/],
    ["cut.gif", gif.subarray(0, 40), /invalid GIF image/],
    ["cut.webp", webp.subarray(0, 40), /invalid WebP image/],
    ["riff.webp", new TextEncoder().encode("RIFF\0\0\0\0WEBPXXXX"), /invalid WebP image/],
  ];
  for (const [file, bytes, message] of cases) {
    const error = await assertRejects(() => decodeImage(bytes, file), ZooFormatError);
    assertEquals(error.file, file);
    assert(error.message.startsWith(`${file}: `), error.message);
    assert(message.test(error.message), `${file}: ${error.message}`);
  }
});
