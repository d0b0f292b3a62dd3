/**
 * Tests of zoo/image.ts: every decoder against Pillow's decode of the same bytes (fixtures from
 * testdata/fixtures/images/make_fixtures.py), EXIF orientation, corrupt input, the CIFAR strip
 * split, and command-line argument expansion.
 *
 * @module
 */

import { assert, assertEquals, assertRejects, assertThrows } from "@std/assert";
import { ZooFormatError } from "../arch/errors.ts";
import { decodeImage, expandImageArgs, type RgbImage, splitImageRows } from "./image.ts";

const FIXTURES = new URL("../testdata/fixtures/images/", import.meta.url);
const SHARED = new URL("../testdata/", import.meta.url);

function readFixture(name: string): Promise<Uint8Array> {
  return Deno.readFile(new URL(name, FIXTURES));
}

async function decodeFixture(name: string): Promise<RgbImage> {
  return decodeImage(await readFixture(name), name);
}

/** Largest absolute difference, and the mean one, between two equally long byte arrays. */
function byteErrors(actual: Uint8Array, expected: Uint8Array): { max: number; mean: number } {
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

function pixel(image: RgbImage, x: number, y: number): number[] {
  const at = (y * image.width + x) * 3;
  return [...image.data.subarray(at, at + 3)];
}

Deno.test("PNG: every colour type and bit depth decodes to Pillow's RGB exactly", async () => {
  const cases = [
    "png_rgb8", // colour type 2
    "png_rgba8", // 6, alpha dropped
    "png_rgb8_adam7", // interlaced
    "png_rgb16", // 16-bit: high byte kept
    "png_rgba16",
    "png_gray8", // 0
    "png_gray16",
    "png_graya8", // 4
    "png_gray1", // 1/2/4-bit gray scaled by 255, 85, 17
    "png_gray2",
    "png_gray4",
    "png_palette8", // 3
    "png_palette4_trns", // palette with tRNS alpha
    "png_palette1",
  ];
  for (const name of cases) {
    const image = await decodeFixture(`${name}.png`);
    assertEquals([image.width, image.height], [7, 5], name);
    assertEquals(image.data, await readFixture(`${name}.rgb`), name);
  }
});

Deno.test("GIF: the first of two frames, palette looked up", async () => {
  const image = await decodeFixture("gif_two_frames.gif");
  assertEquals([image.width, image.height], [7, 5]);
  assertEquals(image.data, await readFixture("gif_two_frames.rgb"));
});

Deno.test("WebP: lossless (VP8L), lossy (VP8) and lossy+alpha (VP8X) match Pillow's libwebp", async () => {
  const lossless = await decodeFixture("webp_lossless_rgba.webp");
  assertEquals([lossless.width, lossless.height], [7, 5]);
  assertEquals(lossless.data, await readFixture("webp_lossless_rgba.rgb"));
  for (const name of ["webp_lossy", "webp_lossy_alpha"]) {
    const image = await decodeFixture(`${name}.webp`);
    assertEquals([image.width, image.height], [24, 16], name);
    // Both sides are libwebp with fancy upsampling; measured max difference 0.
    assertEquals(byteErrors(image.data, await readFixture(`${name}.rgb`)).max, 0, name);
  }
});

Deno.test("JPEG: the shared photos against Pillow (libjpeg-turbo), 64×64 crops", async () => {
  // jpeg-js and libjpeg-turbo differ in IDCT rounding (±3 measured on cat.jpg, which is 4:4:4)
  // and, for 4:2:0 files, in chroma upsampling: jpeg-js replicates chroma samples where libjpeg
  // interpolates ("fancy upsampling"), which gives up to ~60 at sharp colour edges. Measured on
  // these crops: cat max 3 / mean 0.46; grace_hopper max 9 / mean 1.26; fish-bike max 60 /
  // mean 2.59 (whole images: mean 0.53, 1.18, 0.91).
  const cases = [
    { name: "cat", width: 480, height: 360, x: 208, y: 148, max: 3, mean: 0.6 },
    { name: "grace_hopper", width: 517, height: 606, x: 226, y: 271, max: 12, mean: 1.5 },
    { name: "fish-bike", width: 481, height: 323, x: 208, y: 130, max: 64, mean: 3 },
  ];
  for (const { name, width, height, x, y, max, mean } of cases) {
    const file = new URL(`images/${name}.jpg`, SHARED);
    const image = decodeImage(await Deno.readFile(file), file.pathname);
    assertEquals([image.width, image.height], [width, height], name);
    const crop = new Uint8Array(64 * 64 * 3);
    for (let row = 0; row < 64; row++) {
      const start = ((y + row) * width + x) * 3;
      crop.set(image.data.subarray(start, start + 64 * 3), row * 64 * 3);
    }
    const errors = byteErrors(crop, await readFixture(`${name}_x${x}_y${y}_64x64.rgb`));
    assert(errors.max <= max, `${name}: max |Δ| ${errors.max} > ${max}`);
    assert(errors.mean <= mean, `${name}: mean |Δ| ${errors.mean} > ${mean}`);
  }
});

Deno.test("JPEG: EXIF orientations 1–8 (II and MM byte order) match Pillow's exif_transpose", async () => {
  for (let orientation = 1; orientation <= 8; orientation++) {
    const name = `exif_orientation${orientation}`;
    const image = await decodeFixture(`${name}.jpg`);
    const expectedSize = orientation >= 5 ? [16, 24] : [24, 16];
    assertEquals([image.width, image.height], expectedSize, name);
    // Flat 8×8 blocks at quality 100, 4:4:4: the decoders agree to ±1 (measured 1).
    assert(byteErrors(image.data, await readFixture(`${name}.rgb`)).max <= 2, name);
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

Deno.test("corrupt, truncated, unknown and oversized files raise ZooFormatError naming the file", async () => {
  const cat = await Deno.readFile(new URL("images/cat.jpg", SHARED));
  const png = await readFixture("png_rgb8.png");
  const gif = await readFixture("gif_two_frames.gif");
  const webp = await readFixture("webp_lossy.webp");
  const hugePng = png.slice();
  new DataView(hugePng.buffer).setUint32(16, 100_000); // IHDR width
  new DataView(hugePng.buffer).setUint32(20, 100_000); // IHDR height
  const badPngData = png.slice();
  badPngData[45] ^= 0xff; // inside the IDAT zlib stream
  const cases: [string, Uint8Array, RegExp][] = [
    ["empty.jpg", new Uint8Array(0), /empty file/],
    [
      "text.png",
      new TextEncoder().encode("<!DOCTYPE html>"),
      /not a JPEG, PNG, GIF or WebP.*3c 21 44/,
    ],
    ["bitmap.jpg", new Uint8Array([0x42, 0x4d, 0, 0, 0, 0]), /not a JPEG, PNG, GIF or WebP/],
    ["cat_header.jpg", cat.subarray(0, 600), /invalid JPEG/],
    ["cat_half.jpg", cat.subarray(0, cat.length / 2), /invalid JPEG/],
    ["short.png", png.subarray(0, 20), /IHDR chunk missing/],
    ["cut.png", png.subarray(0, 60), /invalid PNG/],
    ["flipped.png", badPngData, /invalid PNG/],
    ["huge.png", hugePng, /100000×100000 = 10000000000 pixels, more than/],
    ["cut.gif", gif.subarray(0, 40), /invalid GIF/],
    ["cut.webp", webp.subarray(0, 40), /invalid WebP/],
    ["riff.webp", new TextEncoder().encode("RIFF\0\0\0\0WEBPXXXX"), /invalid WebP.*'XXXX'/],
  ];
  for (const [file, bytes, message] of cases) {
    const error = assertThrows(() => decodeImage(bytes, file), ZooFormatError);
    assertEquals(error.file, file);
    assert(error.message.startsWith(`${file}: `), error.message);
    assert(message.test(error.message), `${file}: ${error.message}`);
  }
});

Deno.test("splitImageRows: the CIFAR-10 strip gives 1000 32×32 images, equal to numpy's read", async () => {
  const file = new URL("cifar10-test/test_1000.png", SHARED);
  const strip = decodeImage(await Deno.readFile(file), file.pathname);
  assertEquals([strip.width, strip.height], [1024, 1000]);
  const images = splitImageRows(strip, 32, 32);
  assertEquals(images.length, 1000);
  assertEquals([images[0].width, images[0].height, images[0].data.length], [32, 32, 3072]);
  // numpy: np.asarray(Image.open("test_1000.png"))[0, :2] and [999, -1]
  assertEquals(pixel(images[0], 0, 0), [158, 112, 49]);
  assertEquals(pixel(images[0], 1, 0), [159, 111, 47]);
  assertEquals(pixel(images[999], 31, 31), [93, 110, 131]);
  assertEquals(images[0].data, await readFixture("cifar_test_0.rgb"));
  assertEquals(images[999].data, await readFixture("cifar_test_999.rgb"));
  assertThrows(() => splitImageRows(strip, 32, 16), RangeError, "a 32×16 tile needs 512");
});

Deno.test("expandImageArgs: files, directories, *, ? and ** globs, sorted and deduplicated", async () => {
  const root = await Deno.makeTempDir({ prefix: "denozoo_images_" });
  const files = [
    "a/one.jpg",
    "a/two.JPEG",
    "a/notes.txt",
    "a/b/three.png",
    "a/b/c/four.webp",
    "a/.hidden/five.png",
    "six.gif",
    "seven.jpg",
    "data.bin",
  ];
  try {
    for (const file of files) {
      await Deno.mkdir(`${root}/${file.slice(0, file.lastIndexOf("/") + 1)}`, { recursive: true });
      await Deno.writeFile(`${root}/${file}`, new Uint8Array([1]));
    }
    await Deno.symlink(`${root}/a`, `${root}/a/b/loop`); // must not be walked into
    const at = (...names: string[]) => names.map((n) => `${root}/${n}`);

    assertEquals(
      await expandImageArgs([`${root}/a`]),
      at("a/b/c/four.webp", "a/b/three.png", "a/one.jpg", "a/two.JPEG"),
    );
    assertEquals(await expandImageArgs([`${root}/*.jpg`]), at("seven.jpg"));
    assertEquals(await expandImageArgs([`${root}/s?x.gif`]), at("six.gif"));
    assertEquals(await expandImageArgs([`${root}/*`]), at("seven.jpg", "six.gif"));
    assertEquals(
      await expandImageArgs([`${root}/**/*.png`]),
      at("a/b/three.png"), // .hidden is skipped, as a shell would
    );
    assertEquals(
      await expandImageArgs([`${root}/a/**`]),
      at("a/b/c/four.webp", "a/b/three.png", "a/one.jpg", "a/two.JPEG"),
    );
    assertEquals(await expandImageArgs([`${root}/a/.*/*`]), at("a/.hidden/five.png"));
    // Argument order is kept; duplicates keep their first place; explicit files keep any extension.
    assertEquals(
      await expandImageArgs([
        `${root}/six.gif`,
        `${root}/data.bin`,
        `${root}/**/*.gif`,
        `${root}/a/b`,
      ]),
      at("six.gif", "data.bin", "a/b/c/four.webp", "a/b/three.png"),
    );
    // Relative patterns give relative paths.
    const cwd = Deno.cwd();
    Deno.chdir(root);
    try {
      assertEquals(await expandImageArgs(["**/t*.*"]), ["a/b/three.png", "a/two.JPEG"]);
    } finally {
      Deno.chdir(cwd);
    }
    await assertRejects(() => expandImageArgs([`${root}/missing.jpg`]), Deno.errors.NotFound);
    await assertRejects(
      () => expandImageArgs([`${root}/*.tiff`]),
      Deno.errors.NotFound,
      "no image files found",
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
