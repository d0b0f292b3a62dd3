/**
 * The preprocessing contract of a weights set, as data: geometry (resize and crop, or a fixed
 * size) and per-channel scaling, with the presets of the frameworks the zoo imports from. The
 * tfjs implementation is `vision/preprocess.ts`.
 *
 * @example
 * ```ts
 * import { PREPROCESS_PRESETS } from "./preprocess.ts";
 * console.log(PREPROCESS_PRESETS.TORCHVISION_V2); // { resize: 232, crop: 224, mode: "torch" }
 * ```
 *
 * @module
 */

/** How pixel values are scaled after resizing, as the weights' framework expects. */
export type PreprocessMode = "torch" | "caffe" | "tf" | "raw";

/**
 * The resampling filters a spec may name, as Pillow has them (`Image.resize(size, filter)`,
 * which torchvision's `Resize` calls on a PIL image).
 *
 * @example
 * ```ts
 * import { INTERPOLATIONS } from "./preprocess.ts";
 * console.log(INTERPOLATIONS); // [ "bilinear", "bicubic" ]
 * ```
 */
export const INTERPOLATIONS = ["bilinear", "bicubic"] as const;

/**
 * A resampling filter of Pillow's: `bilinear` (a triangle over ±1 input sample, widened by the
 * downscale factor) or `bicubic` (Keys' cubic with a = −0.5 over ±2, widened likewise). Both are
 * antialiased when shrinking, as Pillow always is.
 *
 * @example
 * ```ts
 * import type { Interpolation } from "./preprocess.ts";
 * const timm: Interpolation = "bicubic";
 * console.log(timm); // bicubic
 * ```
 */
export type Interpolation = typeof INTERPOLATIONS[number];

/**
 * The preprocessing a weights set was trained with. Geometry first (either `resize` with an
 * optional `crop`, or `size`, resampled by `interpolation`), then per-channel scaling by `mode`.
 *
 * @example
 * ```ts
 * import type { PreprocessSpec } from "./preprocess.ts";
 * // timm's ResNet-50 "a1" weights: resize 235 bicubic, crop 224, ImageNet mean and std.
 * const timm: PreprocessSpec = { resize: 235, crop: 224, interpolation: "bicubic", mode: "torch" };
 * console.log(timm.interpolation); // bicubic
 * ```
 */
export interface PreprocessSpec {
  /**
   * Resize so that the shorter side has this length, keeping the aspect ratio; the longer side
   * becomes `floor(resize * long / short)` (torchvision `Resize(int)`).
   */
  resize?: number;
  /**
   * Center crop to `crop`×`crop` after resizing. The top-left corner is
   * `round((size - crop) / 2)` with Python's round-half-to-even; a crop larger than the image
   * pads with zero pixels, as torchvision `CenterCrop` does.
   */
  crop?: number;
  /** Or resize straight to `[height, width]`, ignoring the aspect ratio (e.g. CIFAR 32×32). */
  size?: [number, number];
  /**
   * The filter that resizes (default `bilinear`, torchvision's `Resize` default; timm evaluates
   * with `bicubic`). Absent in files written before the field existed, which were resized
   * bilinear.
   */
  interpolation?: Interpolation;
  /**
   * - `torch`: x/255, then (x − mean)/std (ImageNet mean and std unless overridden);
   * - `caffe`: RGB→BGR, then minus the BGR means [103.939, 116.779, 123.68], no scaling;
   * - `tf`: x/127.5 − 1;
   * - `raw`: the 0–255 values as floats.
   */
  mode: PreprocessMode;
  /** Per-channel (RGB) mean in 0–1 units for `torch` mode. */
  mean?: [number, number, number];
  /** Per-channel (RGB) standard deviation in 0–1 units for `torch` mode. */
  std?: [number, number, number];
}

/**
 * ImageNet RGB channel means in 0–1 units (torchvision, and the default of `torch` mode).
 *
 * @example
 * ```ts
 * import { IMAGENET_MEAN } from "./preprocess.ts";
 * console.log(IMAGENET_MEAN.map((m) => m * 255)); // ≈ [123.675, 116.28, 103.53]
 * ```
 */
export const IMAGENET_MEAN: [number, number, number] = [0.485, 0.456, 0.406];

/**
 * ImageNet RGB channel standard deviations in 0–1 units (torchvision, the `torch` default).
 *
 * @example
 * ```ts
 * import { IMAGENET_STD } from "./preprocess.ts";
 * console.log(IMAGENET_STD); // [0.229, 0.224, 0.225]
 * ```
 */
export const IMAGENET_STD: [number, number, number] = [0.229, 0.224, 0.225];

/** Keras "caffe" mode subtracts these from B, G, R (0–255 units). */
export const CAFFE_BGR_MEAN: readonly [number, number, number] = [103.939, 116.779, 123.68];

/**
 * torchvision `IMAGENET1K_V1` weights: resize 256, center crop 224, ImageNet mean/std.
 *
 * @example
 * ```ts
 * import { TORCHVISION_V1 } from "./preprocess.ts";
 * console.log(TORCHVISION_V1.resize, TORCHVISION_V1.crop);
 * ```
 */
export const TORCHVISION_V1: PreprocessSpec = { resize: 256, crop: 224, mode: "torch" };

/**
 * torchvision `IMAGENET1K_V2` weights (ResNet-50/101/152): resize 232, center crop 224.
 *
 * @example
 * ```ts
 * import { TORCHVISION_V2 } from "./preprocess.ts";
 * console.log(TORCHVISION_V2.resize, TORCHVISION_V2.crop);
 * ```
 */
export const TORCHVISION_V2: PreprocessSpec = { resize: 232, crop: 224, mode: "torch" };

/**
 * Keras Applications ResNet v1 (`preprocess_input` mode "caffe") on a 256-resize, 224-crop.
 *
 * @example
 * ```ts
 * import { KERAS_CAFFE } from "./preprocess.ts";
 * console.log(KERAS_CAFFE.mode);
 * ```
 */
export const KERAS_CAFFE: PreprocessSpec = { resize: 256, crop: 224, mode: "caffe" };

/**
 * Keras Applications ResNet v2 (`preprocess_input` mode "tf", values in [−1, 1]) on a
 * 256-resize, 224-crop.
 *
 * @example
 * ```ts
 * import { KERAS_TF } from "./preprocess.ts";
 * console.log(KERAS_TF.mode);
 * ```
 */
export const KERAS_TF: PreprocessSpec = { resize: 256, crop: 224, mode: "tf" };

/**
 * The akamaster CIFAR-10 ResNet checkpoints: 32×32, x/255 then ImageNet mean/std.
 *
 * @example
 * ```ts
 * import { CIFAR10_TORCH } from "./preprocess.ts";
 * console.log(CIFAR10_TORCH.mode);
 * ```
 */
export const CIFAR10_TORCH: PreprocessSpec = {
  size: [32, 32],
  mode: "torch",
  mean: IMAGENET_MEAN,
  std: IMAGENET_STD,
};

/**
 * CIFAR-10 models fed raw 0–255 floats, such as the MLPerf Tiny Keras ResNet-8.
 *
 * @example
 * ```ts
 * import { CIFAR10_RAW } from "./preprocess.ts";
 * console.log(CIFAR10_RAW.mode);
 * ```
 */
export const CIFAR10_RAW: PreprocessSpec = { size: [32, 32], mode: "raw" };

/**
 * timm's evaluation transform for weights trained at 224 with `crop_pct` 0.875 (its default:
 * the `ra2`, `bt` and `miil` ResNet-D, SE and ECA weights): shorter side ⌊224 / 0.875⌋ = 256,
 * center crop 224, bicubic, ImageNet mean and std.
 *
 * @example
 * ```ts
 * import { TIMM_CROP_875 } from "./preprocess.ts";
 * console.log(TIMM_CROP_875.resize, TIMM_CROP_875.crop); // 256 224
 * ```
 */
export const TIMM_CROP_875: PreprocessSpec = {
  resize: 256,
  crop: 224,
  interpolation: "bicubic",
  mode: "torch",
};

/**
 * timm's evaluation transform at 224 with `crop_pct` 0.95 (its ResNet Strikes Back `a1`/`a2`
 * weights): shorter side ⌊224 / 0.95⌋ = 235, center crop 224, bicubic, ImageNet mean and std.
 *
 * @example
 * ```ts
 * import { TIMM_CROP_95 } from "./preprocess.ts";
 * console.log(TIMM_CROP_95.resize, TIMM_CROP_95.crop); // 235 224
 * ```
 */
export const TIMM_CROP_95: PreprocessSpec = {
  resize: 235,
  crop: 224,
  interpolation: "bicubic",
  mode: "torch",
};

/**
 * timm's evaluation transform for weights trained at 256 with `crop_pct` 0.95 (`resnet101d.ra2`):
 * shorter side ⌊256 / 0.95⌋ = 269, center crop 256, bicubic, ImageNet mean and std.
 *
 * @example
 * ```ts
 * import { TIMM_256_CROP_95 } from "./preprocess.ts";
 * console.log(TIMM_256_CROP_95.resize, TIMM_256_CROP_95.crop); // 269 256
 * ```
 */
export const TIMM_256_CROP_95: PreprocessSpec = {
  resize: 269,
  crop: 256,
  interpolation: "bicubic",
  mode: "torch",
};

/**
 * TensorFlow's official ResNet (`imagenet_preprocessing.py`): shorter side 256, central crop 224,
 * then the RGB means 123.68, 116.78, 103.94 subtracted with no scaling, written as `torch` mode
 * with a standard deviation of 1/255.
 *
 * @example
 * ```ts
 * import { TF_OFFICIAL } from "./preprocess.ts";
 * console.log(TF_OFFICIAL.mean!.map((m) => Math.round(m * 25500) / 100)); // [ 123.68, 116.78, 103.94 ]
 * ```
 */
export const TF_OFFICIAL: PreprocessSpec = {
  resize: 256,
  crop: 224,
  mode: "torch",
  mean: [123.68 / 255, 116.78 / 255, 103.94 / 255],
  std: [1 / 255, 1 / 255, 1 / 255],
};

/**
 * The presets by name, as the weights registry refers to them.
 *
 * @example
 * ```ts
 * console.log(PREPROCESS_PRESETS.TORCHVISION_V2.resize); // 232
 * ```
 */
export const PREPROCESS_PRESETS: Readonly<Record<string, PreprocessSpec>> = {
  TORCHVISION_V1,
  TORCHVISION_V2,
  KERAS_CAFFE,
  KERAS_TF,
  CIFAR10_TORCH,
  CIFAR10_RAW,
  TIMM_CROP_875,
  TIMM_CROP_95,
  TIMM_256_CROP_95,
  TF_OFFICIAL,
};
