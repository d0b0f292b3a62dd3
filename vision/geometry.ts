/**
 * The geometry of a {@link PreprocessSpec}, as torchvision computes it on a PIL image: the size an
 * image is resized to (`Resize(int)` keeps the aspect ratio and floors the long side, `size`
 * ignores it) and the window a `CenterCrop` keeps of that (Python's round-half-to-even offsets;
 * a crop larger than the image pads with black).
 *
 * @example
 * ```ts
 * import { TORCHVISION_V2 } from "../arch/preprocess.ts";
 * import { planCrop } from "./geometry.ts";
 * console.log(planCrop(480, 360, TORCHVISION_V2));
 * // { resizedWidth: 309, resizedHeight: 232, left: 42, top: 4, width: 224, height: 224 }
 * ```
 *
 * @module
 */

import type { PreprocessSpec } from "../arch/preprocess.ts";

/**
 * Where a model input comes from in an image: resize the whole image to `resizedWidth` ×
 * `resizedHeight`, then keep the `width` × `height` window whose top-left corner is (`left`,
 * `top`) in the resized image. A window reaching outside it (negative offsets) is padded with
 * black, as torchvision's `CenterCrop` pads.
 *
 * @example
 * ```ts
 * import type { CropPlan } from "./geometry.ts";
 * // A 32×32 image kept as it is.
 * const identity: CropPlan = {
 *   resizedWidth: 32,
 *   resizedHeight: 32,
 *   left: 0,
 *   top: 0,
 *   width: 32,
 *   height: 32,
 * };
 * console.log(identity.width * identity.height); // 1024
 * ```
 */
export interface CropPlan {
  /** Width of the whole resized image. */
  resizedWidth: number;
  /** Height of the whole resized image. */
  resizedHeight: number;
  /** Column of the window's first pixel in the resized image (negative: padding). */
  left: number;
  /** Row of the window's first pixel in the resized image (negative: padding). */
  top: number;
  /** Width of the window: the model input's width. */
  width: number;
  /** Height of the window: the model input's height. */
  height: number;
}

/** Python's round(): half to even, as torchvision's CenterCrop offsets use it. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function positiveInteger(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`preprocess: ${what} must be a positive integer, got ${value}`);
  }
  return value;
}

/** First kept sample of an axis of `resized` samples, for a crop of `crop` (or none). */
function cropStart(resized: number, crop: number): number {
  return crop > resized ? -Math.floor((crop - resized) / 2) : roundHalfEven((resized - crop) / 2);
}

/**
 * The crop plan of a spec for an image of the given size.
 *
 * @param width The image's width, after its EXIF orientation.
 * @param height The image's height, after its EXIF orientation.
 * @param spec The weights' preprocessing.
 * @returns Resized size and the kept window.
 * @throws {RangeError} For a spec with both `size` and `resize`, or a size, resize or crop that
 *   is not a positive integer.
 *
 * @example
 * ```ts
 * import { CIFAR10_TORCH } from "../arch/preprocess.ts";
 * console.log(planCrop(480, 360, CIFAR10_TORCH).resizedWidth); // 32
 * console.log(planCrop(24, 32, { resize: 24, crop: 28, mode: "torch" }).left); // -2
 * ```
 */
export function planCrop(width: number, height: number, spec: PreprocessSpec): CropPlan {
  if (spec.size && spec.resize !== undefined) {
    throw new RangeError("preprocess: give either size or resize, not both");
  }
  let resizedWidth = width;
  let resizedHeight = height;
  if (spec.size) {
    resizedHeight = positiveInteger(spec.size[0], "size[0]");
    resizedWidth = positiveInteger(spec.size[1], "size[1]");
  } else if (spec.resize !== undefined) {
    const short = positiveInteger(spec.resize, "resize");
    const long = Math.floor((short * Math.max(height, width)) / Math.min(height, width));
    [resizedWidth, resizedHeight] = width <= height ? [short, long] : [long, short];
  }
  if (spec.crop === undefined) {
    return {
      resizedWidth,
      resizedHeight,
      left: 0,
      top: 0,
      width: resizedWidth,
      height: resizedHeight,
    };
  }
  const crop = positiveInteger(spec.crop, "crop");
  return {
    resizedWidth,
    resizedHeight,
    left: cropStart(resizedWidth, crop),
    top: cropStart(resizedHeight, crop),
    width: crop,
    height: crop,
  };
}
