/**
 * Image preprocessing for pretrained weights: a {@link PreprocessSpec} (the contract, in
 * `arch/preprocess.ts`) applied to decoded images — the geometry by `resample.ts` (Pillow's
 * resampling, to the byte), then each framework's scaling into one NHWC float32 batch.
 *
 * @example
 * ```ts
 * import { useBackend } from "../runtime/backend.ts";
 * import { TORCHVISION_V1 } from "../arch/preprocess.ts";
 * import { decodeImage } from "./decode.ts";
 * import { preprocessImages } from "./preprocess.ts";
 *
 * await useBackend("cpu");
 * const image = await decodeImage(await Deno.readFile("testdata/images/cat.jpg"), "cat.jpg");
 * const batch = preprocessImages([image], TORCHVISION_V1);
 * console.log(batch.shape, batch.dtype); // [ 1, 224, 224, 3 ] float32
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import type { Tensor4D } from "../runtime/tensor.ts";
import type { RgbImage } from "./rgb_image.ts";
import { planCrop } from "./geometry.ts";
import { resizeAndCrop } from "./resample.ts";
import {
  CAFFE_BGR_MEAN,
  IMAGENET_MEAN,
  IMAGENET_STD,
  type PreprocessSpec,
} from "../arch/preprocess.ts";

/** Per-channel `x * scale + offset` (RGB order in, model order out) and channel order. */
function channelAffine(
  spec: PreprocessSpec,
): { scale: number[]; offset: number[]; bgr: boolean } {
  if (spec.mode !== "torch" && (spec.mean || spec.std)) {
    throw new RangeError(`preprocess: mean and std apply to torch mode only, not ${spec.mode}`);
  }
  switch (spec.mode) {
    case "torch": {
      const mean = spec.mean ?? IMAGENET_MEAN;
      const std = spec.std ?? IMAGENET_STD;
      if (!std.every((s) => s > 0)) {
        throw new RangeError(`preprocess: std must be positive, got [${std}]`);
      }
      return {
        scale: std.map((s) => 1 / (255 * s)),
        offset: mean.map((m, c) => -m / std[c]),
        bgr: false,
      };
    }
    case "caffe":
      // Keras' caffe mode: BGR order, then minus the BGR means.
      return { scale: [1, 1, 1], offset: [...CAFFE_BGR_MEAN].reverse().map((m) => -m), bgr: true };
    case "tf":
      return { scale: [1 / 127.5, 1 / 127.5, 1 / 127.5], offset: [-1, -1, -1], bgr: false };
    case "raw":
      return { scale: [1, 1, 1], offset: [0, 0, 0], bgr: false };
    default:
      throw new RangeError(`preprocess: unknown mode '${spec.mode}'`);
  }
}

/**
 * Scales model-sized 8-bit images into one NHWC float32 batch as the spec's `mode` says (torch:
 * x/255 then mean and std; caffe: BGR order minus the BGR means; tf: x/127.5 − 1; raw: x). The
 * images must already have the input's size (see `decodeForModel`); their geometry is not
 * touched.
 *
 * @param images Equally sized images, each the model's input.
 * @param spec The weights' preprocessing; its `mode`, `mean` and `std` are used.
 * @returns `images.length × height × width × 3` values, channels in the model's order.
 * @throws {RangeError} For an empty list, images of different sizes, or a malformed mode.
 *
 * @example
 * ```ts
 * import { KERAS_CAFFE } from "../arch/preprocess.ts";
 * const white = { width: 1, height: 1, data: new Uint8Array([255, 255, 255]) };
 * console.log(scaleImages([white], KERAS_CAFFE)); // Float32Array(3) [ 151.06100463867188, 138.2209930419922, 131.32000732421875 ]
 * ```
 */
export function scaleImages(images: RgbImage[], spec: PreprocessSpec): Float32Array {
  if (images.length === 0) throw new RangeError("preprocess: no images");
  const { scale, offset, bgr } = channelAffine(spec);
  const { width, height } = images[0];
  const pixels = width * height;
  const out = new Float32Array(images.length * pixels * 3);
  images.forEach((image, n) => {
    if (image.width !== width || image.height !== height) {
      throw new RangeError(
        `preprocess: image ${n} gives ${image.height}×${image.width} but image 0 gives ` +
          `${height}×${width}; add a crop or a size`,
      );
    }
    const src = image.data;
    let q = n * pixels * 3;
    for (let p = 0; p < pixels * 3; p += 3, q += 3) {
      const r = src[p] * scale[0] + offset[0];
      const g = src[p + 1] * scale[1] + offset[1];
      const b = src[p + 2] * scale[2] + offset[2];
      out[q] = bgr ? b : r;
      out[q + 1] = g;
      out[q + 2] = bgr ? r : b;
    }
  });
  return out;
}

/**
 * Resizes, crops and scales decoded images into one NHWC float32 batch, as torchvision's
 * `Resize` + `CenterCrop` + `ToTensor` + `Normalize` do on PIL images (the resized pixels are
 * Pillow's, to the byte) or, in caffe and tf modes, as Keras' `preprocess_input` does on them.
 * Images may differ in size as long as the spec makes every output the same size (a `crop`, a
 * `size`, or equal shapes).
 *
 * @param images Decoded RGB images.
 * @param spec The weights' preprocessing, e.g. {@link TORCHVISION_V1}.
 * @returns A `[images.length, height, width, 3]` float32 tensor; channels are BGR in caffe mode.
 * @throws {RangeError} For an empty list, a malformed spec, or outputs of different sizes.
 *
 * @example
 * ```ts
 * import { useBackend } from "../runtime/backend.ts";
 * import { TORCHVISION_V2 } from "../arch/preprocess.ts";
 * import { preprocessImages } from "./preprocess.ts";
 *
 * await useBackend("cpu");
 * const gray = { width: 300, height: 200, data: new Uint8Array(300 * 200 * 3).fill(128) };
 * const batch = preprocessImages([gray, gray], TORCHVISION_V2);
 * console.log(batch.shape); // [ 2, 224, 224, 3 ]
 * ```
 */
export function preprocessImages(images: RgbImage[], spec: PreprocessSpec): Tensor4D {
  if (images.length === 0) throw new RangeError("preprocess: no images");
  channelAffine(spec); // a malformed mode fails before any pixel work
  const inputs = images.map((image) => {
    if (image.data.length !== image.width * image.height * 3) {
      throw new RangeError(
        `preprocess: image of ${image.width}×${image.height} has ${image.data.length} bytes, expected ${
          image.width * image.height * 3
        }`,
      );
    }
    return resizeAndCrop(image, planCrop(image.width, image.height, spec), spec.interpolation);
  });
  const { width, height } = inputs[0];
  return tf.tensor4d(scaleImages(inputs, spec), [inputs.length, height, width, 3]);
}
