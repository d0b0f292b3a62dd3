/**
 * Tests of vision/preprocess.ts (with geometry.ts and resample.ts) against hand-computed pixels
 * and against torchvision 0.14 (fixtures from testdata/fixtures/images/make_fixtures.py), and of
 * arch/labels.ts against the shared class index. The shared photos against torchvision and Keras
 * are in fidelity_test.ts.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import { assert, assertAlmostEquals, assertEquals, assertThrows } from "@std/assert";
import { decodeImage } from "./decode.ts";
import type { RgbImage } from "./rgb_image.ts";
import { preprocessImages } from "./preprocess.ts";
import {
  CIFAR10_RAW,
  CIFAR10_TORCH,
  IMAGENET_MEAN,
  IMAGENET_STD,
  KERAS_CAFFE,
  KERAS_TF,
  type PreprocessSpec,
  TORCHVISION_V1,
  TORCHVISION_V2,
} from "../arch/preprocess.ts";
import { cifar10Labels, imagenetLabels, labelsFor } from "../arch/labels.ts";
import { useBackend } from "../runtime/backend.ts";

await useBackend("cpu");

const FIXTURES = new URL("../testdata/fixtures/images/", import.meta.url);
const DATA = new URL("../testdata/", import.meta.url);
/** The shared data folder beside the checkout (CI lays a copy there too). */
const LABELS = new URL("../testdata/labels/", import.meta.url);

async function decodeFile(url: URL): Promise<RgbImage> {
  return await decodeImage(await Deno.readFile(url), url.pathname);
}

/** A float32 .npy file (version 1 or 2 header, C order). */
async function readNpyFloat32(name: string): Promise<{ shape: number[]; data: Float32Array }> {
  const bytes = await Deno.readFile(new URL(name, FIXTURES));
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = bytes[6];
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const headerStart = major === 1 ? 10 : 12;
  const header = new TextDecoder().decode(bytes.subarray(headerStart, headerStart + headerLength));
  assert(header.includes("'descr': '<f4'") && header.includes("'fortran_order': False"), header);
  const shape = header.match(/'shape': \(([^)]*)\)/)![1].split(",").filter((s) => s.trim())
    .map(Number);
  const data = new Float32Array(bytes.slice(headerStart + headerLength).buffer);
  assertEquals(data.length, shape.reduce((a, b) => a * b, 1));
  return { shape, data };
}

/** NCHW (torch) → NHWC (ours). */
function nchwToNhwc({ shape, data }: { shape: number[]; data: Float32Array }): Float32Array {
  const [n, c, h, w] = shape;
  const out = new Float32Array(data.length);
  for (let b = 0; b < n; b++) {
    for (let ch = 0; ch < c; ch++) {
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          out[((b * h + y) * w + x) * c + ch] = data[((b * c + ch) * h + y) * w + x];
        }
      }
    }
  }
  return out;
}

/** Largest |a - b| per channel (NHWC, 3 channels), each divided by that channel's `unit`. */
function maxChannelError(a: Float32Array, b: Float32Array, unit: number[]): number {
  assertEquals(a.length, b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]) / unit[i % 3]);
  return max;
}

function run(images: RgbImage[], spec: PreprocessSpec): { shape: number[]; data: Float32Array } {
  const before = tf.memory().numTensors;
  const out = preprocessImages(images, spec);
  assertEquals(tf.memory().numTensors, before + 1, "only the result tensor may remain");
  const data = out.dataSync() as Float32Array;
  const shape = out.shape;
  out.dispose();
  return { shape, data };
}

const randomImage = decodeFile(new URL("random_50x37.png", FIXTURES));
const TORCH: PreprocessSpec = { mode: "torch" }; // ImageNet mean and std

Deno.test("antialiased resize + crop is torchvision's float-tensor resize to Pillow's 8-bit rounding", async () => {
  const image = await randomImage;
  assertEquals([image.width, image.height], [50, 37]);
  const cases: [string, PreprocessSpec, number[]][] = [
    ["tv_resize24_crop20_tensor.npy", { ...TORCH, resize: 24, crop: 20 }, [1, 20, 20, 3]],
    // offsets (24-19)/2 = 2.5 → 2 and (32-19)/2 = 6.5 → 6: Python rounds half to even
    ["tv_resize24_crop19_tensor.npy", { ...TORCH, resize: 24, crop: 19 }, [1, 19, 19, 3]],
    // rows 37 → 16 (downscale), columns 50 → 64 (upscale)
    ["tv_size16x64_tensor.npy", { ...TORCH, size: [16, 64] }, [1, 16, 64, 3]],
    // a crop larger than the 24×32 image: zero padding before normalising
    ["tv_resize24_crop28_tensor.npy", { ...TORCH, resize: 24, crop: 28 }, [1, 28, 28, 3]],
  ];
  for (const [name, spec, shape] of cases) {
    const ours = run([image], spec);
    assertEquals(ours.shape, shape, name);
    const reference = await readNpyFloat32(name);
    // In 0–1 units (error × std). The resampling is Pillow's, which rounds to 8 bits after each
    // of its two passes (with fixed-point weights): within 1/255 of the float result.
    const error = maxChannelError(ours.data, nchwToNhwc(reference), IMAGENET_STD.map((s) => 1 / s));
    assert(error <= 1 / 255 + 1e-6, `${name}: max error ${error * 255}/255`);
  }
});

Deno.test("resize 24 + crop 20 equals torchvision on a PIL image", async () => {
  const ours = run([await randomImage], { ...TORCH, resize: 24, crop: 20 });
  const reference = nchwToNhwc(await readNpyFloat32("tv_resize24_crop20_pil.npy"));
  // The same 8-bit pixels as Pillow's; what is left is float32 rounding of the normalisation.
  const error = maxChannelError(ours.data, reference, IMAGENET_STD.map((s) => 1 / s));
  assert(error < 2e-6, `max error ${error * 255}/255`);
});

// 2×2 image: (0,128,255) (10,20,30) / (255,0,0) (1,2,3)
const tiny: RgbImage = {
  width: 2,
  height: 2,
  data: new Uint8Array([0, 128, 255, 10, 20, 30, 255, 0, 0, 1, 2, 3]),
};

function assertClose(actual: Float32Array, expected: number[], tolerance = 1e-5): void {
  assertEquals(actual.length, expected.length);
  expected.forEach((e, i) => assertAlmostEquals(actual[i], e, tolerance, `element ${i}`));
}

Deno.test("modes on a hand-computed 2×2 image (size 2×2 is the identity)", () => {
  const raw = run([tiny], { size: [2, 2], mode: "raw" });
  assertEquals(raw.shape, [1, 2, 2, 3]);
  assertClose(raw.data, [0, 128, 255, 10, 20, 30, 255, 0, 0, 1, 2, 3]);

  // x / 127.5 − 1
  assertClose(run([tiny], { size: [2, 2], mode: "tf" }).data, [
    -1,
    0.00392157,
    1,
    -0.92156863,
    -0.84313725,
    -0.76470588,
    1,
    -1,
    -1,
    -0.99215686,
    -0.98431373,
    -0.97647059,
  ]);

  // BGR, minus 103.939 (B), 116.779 (G), 123.68 (R)
  assertClose(run([tiny], { size: [2, 2], mode: "caffe" }).data, [
    151.061,
    11.221,
    -123.68,
    -73.939,
    -96.779,
    -113.68,
    -103.939,
    -116.779,
    131.32,
    -100.939,
    -114.779,
    -122.68,
  ], 1e-4);

  // (x/255 − mean) / std with the ImageNet values: e.g. (0 − 0.485)/0.229 = −2.117904,
  // (128/255 − 0.456)/0.224 = 0.205182, (1 − 0.406)/0.225 = 2.64
  assertClose(run([tiny], { size: [2, 2], mode: "torch" }).data, [
    -2.117904,
    0.205182,
    2.64,
    -1.946656,
    -1.685574,
    -1.281569,
    2.248908,
    -2.035714,
    -1.804444,
    -2.100779,
    -2.0007,
    -1.752157,
  ]);

  // mean/std override: (x/255 − 0.5) / 0.5
  assertClose(
    run([tiny], { size: [2, 2], mode: "torch", mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] }).data
      .slice(0, 3),
    [-1, 0.00392157, 1],
  );
});

Deno.test("hand-computed antialiased weights in Pillow's arithmetic: 2×2 → 1×1 and 4 → 2", () => {
  // Downscale 2 → 1: triangle of support 2 centred at 1; both taps weigh 0.75 → 1/2 each. Rows
  // first, each pass rounding half up to 8 bits: row 0 gives (5, 74, 142.5 → 143), row 1
  // (128, 1, 1.5 → 2); then (66.5 → 67, 37.5 → 38, 72.5 → 73).
  const mean = run([tiny], { size: [1, 1], mode: "raw" });
  assertClose(mean.data, [67, 38, 73]);
  // Downscale 4 → 2: output 0 is centred at 1 with support 2 → taps 0,1,2 weigh .75,.75,.25,
  // i.e. 3/7, 3/7, 1/7; output 1 is centred at 3 → taps 1,2,3 weigh 1/7, 3/7, 3/7: 120/7 and
  // 230/7, rounded to 17 and 33.
  const row: RgbImage = {
    width: 4,
    height: 1,
    data: new Uint8Array([10, 10, 10, 20, 20, 20, 30, 30, 30, 40, 40, 40]),
  };
  const halved = run([row], { size: [1, 2], mode: "raw" });
  assertEquals(halved.shape, [1, 1, 2, 3]);
  assertClose(halved.data, [17, 17, 17, 33, 33, 33]);
});

Deno.test("hand-computed bicubic weights in Pillow's arithmetic: 4 → 2, and clipping at an edge", () => {
  // Downscale 4 → 2: Keys' cubic (a = −0.5) stretched 2×, support 4. Output 0 is centred at 1:
  // taps 0…3 at distances 0.25, 0.25, 0.75, 1.25 (halved) weigh 0.8671875, 0.8671875, 0.2265625
  // and −0.0703125, summing to 1.890625: 30 / 1.890625 = 15.87 → 16. Output 1 mirrors them:
  // 64.53125 / 1.890625 = 34.13 → 34. (Bilinear gives 17 and 33.)
  const row: RgbImage = {
    width: 4,
    height: 1,
    data: new Uint8Array([10, 10, 10, 20, 20, 20, 30, 30, 30, 40, 40, 40]),
  };
  const halved = run([row], { size: [1, 2], interpolation: "bicubic", mode: "raw" });
  assertClose(halved.data, [16, 16, 16, 34, 34, 34]);
  // A black-to-white step enlarged 2×: the lobes reach below 0 and past 255, and clip there.
  const step: RgbImage = {
    width: 4,
    height: 1,
    data: new Uint8Array([0, 0, 255, 255].flatMap((v) => [v, v, v])),
  };
  const doubled = run([step], { size: [1, 8], interpolation: "bicubic", mode: "raw" });
  assertClose(doubled.data.filter((_, i) => i % 3 === 0), [0, 0, 0, 52, 203, 255, 255, 255]);
});

Deno.test("presets: values, and shapes on the shared photos", async () => {
  assertEquals(TORCHVISION_V1, { resize: 256, crop: 224, mode: "torch" });
  assertEquals(TORCHVISION_V2, { resize: 232, crop: 224, mode: "torch" });
  assertEquals(KERAS_CAFFE, { resize: 256, crop: 224, mode: "caffe" });
  assertEquals(KERAS_TF, { resize: 256, crop: 224, mode: "tf" });
  assertEquals(CIFAR10_TORCH, {
    size: [32, 32],
    mode: "torch",
    mean: [0.485, 0.456, 0.406],
    std: [0.229, 0.224, 0.225],
  });
  assertEquals(CIFAR10_RAW, { size: [32, 32], mode: "raw" });
  assertEquals(IMAGENET_MEAN, [0.485, 0.456, 0.406]);

  const cat = await decodeFile(new URL("images/cat.jpg", DATA)); // 480×360
  const grace = await decodeFile(new URL("images/grace_hopper.jpg", DATA)); // 517×606
  const both = run([cat, grace], TORCHVISION_V2);
  assertEquals(both.shape, [2, 224, 224, 3]);
  const caffe = run([cat], KERAS_CAFFE);
  assertEquals(caffe.shape, [1, 224, 224, 3]);
  // caffe is BGR: channel 0 + 103.939 of caffe equals channel 2 of raw on the same geometry
  const raw = run([cat], { resize: 256, crop: 224, mode: "raw" });
  assertAlmostEquals(caffe.data[0] + 103.939, raw.data[2], 1e-3);
  assertAlmostEquals(caffe.data[2] + 123.68, raw.data[0], 1e-3);
  const tfMode = run([cat], KERAS_TF);
  assertAlmostEquals(tfMode.data[5], raw.data[5] / 127.5 - 1, 1e-5);
  assertThrows(
    () => preprocessImages([cat, grace], { resize: 256, mode: "raw" }),
    RangeError,
    "image 1 gives 300×256 but image 0 gives 256×341",
  );
});

Deno.test("CIFAR10_TORCH on 32×32 images is x/255 then ImageNet mean/std, untouched geometry", () => {
  const data = new Uint8Array(32 * 32 * 3).map((_, i) => (i * 37) % 256);
  const out = run([{ width: 32, height: 32, data }], CIFAR10_TORCH);
  assertEquals(out.shape, [1, 32, 32, 3]);
  const expected = [...data].map((v, i) => (v / 255 - IMAGENET_MEAN[i % 3]) / IMAGENET_STD[i % 3]);
  assert(maxChannelError(out.data, new Float32Array(expected), [1, 1, 1]) < 1e-5);
  const raw = run([{ width: 32, height: 32, data }], CIFAR10_RAW);
  assertEquals([...raw.data], [...data]);
});

Deno.test("malformed specs and inputs raise RangeError", () => {
  assertThrows(() => preprocessImages([], TORCHVISION_V1), RangeError, "no images");
  assertThrows(
    () => preprocessImages([tiny], { size: [2, 2], resize: 2, mode: "raw" }),
    RangeError,
    "either size or resize",
  );
  assertThrows(() => preprocessImages([tiny], { crop: 0, mode: "raw" }), RangeError, "crop");
  assertThrows(() => preprocessImages([tiny], { resize: 1.5, mode: "raw" }), RangeError, "resize");
  assertThrows(
    () => preprocessImages([tiny], { mode: "tf", mean: [0, 0, 0] }),
    RangeError,
    "torch mode only",
  );
  assertThrows(
    () => preprocessImages([tiny], { mode: "torch", std: [1, 0, 1] }),
    RangeError,
    "std must be positive",
  );
  assertThrows(
    () => preprocessImages([{ width: 3, height: 3, data: new Uint8Array(5) }], CIFAR10_RAW),
    RangeError,
    "has 5 bytes, expected 27",
  );
});

Deno.test("labels: 1000 ImageNet names in index order, the 10 CIFAR-10 names", async () => {
  const labels = imagenetLabels();
  assertEquals(labels.length, 1000);
  assertEquals([labels[0], labels[281], labels[652], labels[999]], [
    "tench",
    "tabby",
    "military_uniform",
    "toilet_tissue",
  ]);
  const shared: Record<string, [string, string]> = JSON.parse(
    await Deno.readTextFile(new URL("imagenet_class_index.json", LABELS)),
  );
  assertEquals(labels, Array.from({ length: 1000 }, (_, i) => shared[String(i)][1]));
  labels[0] = "changed"; // a fresh copy each call
  assertEquals(imagenetLabels()[0], "tench");
  assertEquals(labelsFor("imagenet")[281], "tabby");
  assert(Object.isFrozen(labelsFor("imagenet")));
  assertEquals(cifar10Labels, [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
  ]);
  assertEquals(labelsFor("cifar10"), cifar10Labels);
});
