/**
 * Preprocessing fidelity: the model inputs this project makes of the shared photos against
 * torchvision's transforms on PIL images and Keras' `preprocess_input`, from the references of
 * testdata/fixtures/preprocess/generate.py. Differences are reported in 0–255 units (mean and
 * max over every value of the input) and printed, so a run shows the measured numbers.
 *
 * @module
 */

import { assert, assertAlmostEquals, assertEquals } from "@std/assert";
import { decodeForModel, decodeImage } from "./decode.ts";
import { decodeAhead } from "./decode_pool.ts";
import { preprocessImages, scaleImages } from "./preprocess.ts";
import type { RgbImage } from "./rgb_image.ts";
import { PREPROCESS_PRESETS, type PreprocessSpec } from "../arch/preprocess.ts";
import { splitImageRows } from "./tiles.ts";
import { byteErrors } from "../tests/image_fixtures.ts";
import { useBackend } from "../runtime/backend.ts";

const REFERENCES = new URL("../testdata/fixtures/preprocess/", import.meta.url);
const PHOTOS = ["cat", "fish-bike", "grace_hopper"];

async function reference(name: string): Promise<RgbImage> {
  const url = new URL(`${name}.png`, REFERENCES);
  return await decodeImage(await Deno.readFile(url), url.pathname);
}

async function modelInput(photo: string, spec: PreprocessSpec): Promise<RgbImage> {
  const file = new URL(`../testdata/images/${photo}.jpg`, import.meta.url).pathname;
  return await decodeForModel(await Deno.readFile(file), file, spec);
}

/** Each geometry of generate.py, as a spec, and the largest errors allowed (0–255 units). */
const GEOMETRIES: [string, PreprocessSpec, { mean: number; max: number }][] = [
  // Decoded at full size and resampled as Pillow does: the same bytes.
  ["r256_c224", PREPROCESS_PRESETS.TORCHVISION_V1, { mean: 0, max: 0 }],
  ["r232_c224", PREPROCESS_PRESETS.TORCHVISION_V2, { mean: 0, max: 0 }],
  ["32x32", PREPROCESS_PRESETS.CIFAR10_TORCH, { mean: 0, max: 0 }],
  ["r64_c56", { resize: 64, crop: 56, mode: "torch" }, { mean: 0, max: 0 }],
  // The photos are 32–52× this: decoded at half size by libjpeg, reduced 1.5× by libvips, and
  // Pillow's filter does the rest (10.8–17×).
  ["r10_c10", { resize: 10, crop: 10, mode: "torch" }, { mean: 0.5, max: 4 }],
  // timm's evaluation transform: Pillow's bicubic, to the byte too.
  ["r256_c224_bicubic", PREPROCESS_PRESETS.TIMM_CROP_875, { mean: 0, max: 0 }],
  ["r64_c56_bicubic", { resize: 64, crop: 56, interpolation: "bicubic", mode: "torch" }, {
    mean: 0,
    max: 0,
  }],
  // Bicubic skips the shrink-on-load (measured 0.10–0.55/255 with it): the same bytes again.
  ["r10_c10_bicubic", { resize: 10, crop: 10, interpolation: "bicubic", mode: "torch" }, {
    mean: 0,
    max: 0,
  }],
];

Deno.test("model inputs of the shared photos against torchvision on PIL images (0–255 units)", async () => {
  for (const [geometry, spec, bound] of GEOMETRIES) {
    for (const photo of PHOTOS) {
      const ours = await modelInput(photo, spec);
      const theirs = await reference(`${photo}_${geometry}`);
      assertEquals([ours.width, ours.height], [theirs.width, theirs.height]);
      const { mean, max } = byteErrors(ours.data, theirs.data);
      console.log(`${photo} ${geometry}: mean |Δ| ${mean.toFixed(3)}/255, max ${max}/255`);
      assert(mean <= bound.mean, `${photo} ${geometry}: mean ${mean} > ${bound.mean}`);
      assert(max <= bound.max, `${photo} ${geometry}: max ${max} > ${bound.max}`);
    }
  }
});

Deno.test("enlarging a 32×32 CIFAR image to 224×224 gives Pillow's bytes", async () => {
  await useBackend("cpu");
  const file = new URL("../testdata/cifar10-test/test_1000.png", import.meta.url).pathname;
  const [first] = splitImageRows(await decodeImage(await Deno.readFile(file), file), 32, 32);
  const spec = PREPROCESS_PRESETS.TORCHVISION_V1;
  const x = preprocessImages([first], spec);
  const expected = scaleImages([await reference("cifar0_r256_c224")], spec);
  assertEquals(x.shape, [1, 224, 224, 3]);
  assertEquals(x.dataSync(), expected);
  x.dispose();
});

Deno.test("bicubic up, down and both at once on a made-up image with hard edges: Pillow's bytes", async () => {
  const url = new URL("synthetic.png", REFERENCES);
  const bytes = await Deno.readFile(url);
  // [height, width] of generate.py's SYNTHETIC_SIZES, from 17×23.
  for (const size of [[45, 61], [5, 7], [40, 9]] as [number, number][]) {
    const ours = await decodeForModel(bytes, url.pathname, {
      size,
      interpolation: "bicubic",
      mode: "raw",
    });
    const theirs = await reference(`synthetic_${size[1]}x${size[0]}_bicubic`);
    assertEquals([ours.width, ours.height], [theirs.width, theirs.height]);
    assertEquals(ours.data, theirs.data, `${size[1]}×${size[0]}`);
  }
});

Deno.test("preprocessImages with a timm preset gives Pillow's bicubic bytes, scaled", async () => {
  await useBackend("cpu");
  const spec = PREPROCESS_PRESETS.TIMM_CROP_875;
  for (const photo of PHOTOS) {
    const file = new URL(`../testdata/images/${photo}.jpg`, import.meta.url).pathname;
    const x = preprocessImages([await decodeImage(await Deno.readFile(file), file)], spec);
    assertEquals(x.dataSync(), scaleImages([await reference(`${photo}_r256_c224_bicubic`)], spec));
    x.dispose();
  }
});

Deno.test("the decoding workers carry a timm preset's interpolation: Pillow's bicubic bytes", async () => {
  const files = PHOTOS.map((photo) =>
    new URL(`../testdata/images/${photo}.jpg`, import.meta.url).pathname
  );
  let i = 0;
  for await (const item of decodeAhead(files, PREPROCESS_PRESETS.TIMM_CROP_875)) {
    if ("error" in item) throw new Error(item.error);
    assertEquals(item.image.data, (await reference(`${PHOTOS[i++]}_r256_c224_bicubic`)).data);
  }
  assertEquals(i, PHOTOS.length);
});

Deno.test("scaling: torchvision's ToTensor + Normalize and Keras' caffe and tf modes", async () => {
  const expected = JSON.parse(
    await Deno.readTextFile(new URL("normalised.json", REFERENCES)),
  ) as Record<string, Record<string, { y: number; x: number; values: number[] }[]>>;
  const geometryOf: Record<string, string> = {
    TORCHVISION_V1: "r256_c224",
    TORCHVISION_V2: "r232_c224",
    CIFAR10_TORCH: "32x32",
    KERAS_CAFFE: "r256_c224",
    KERAS_TF: "r256_c224",
  };
  for (const photo of PHOTOS) {
    for (const [preset, points] of Object.entries(expected[photo])) {
      // Pillow's pixels, scaled here: the geometry is checked above, the formulas here.
      const pixels = await reference(`${photo}_${geometryOf[preset]}`);
      const scaled = scaleImages([pixels], PREPROCESS_PRESETS[preset]);
      for (const { y, x, values } of points) {
        values.forEach((value, c) => {
          const ours = scaled[(y * pixels.width + x) * 3 + c];
          assertAlmostEquals(ours, value, 1e-5, `${photo} ${preset} (${x}, ${y}) channel ${c}`);
        });
      }
    }
  }
});
