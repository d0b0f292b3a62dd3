/**
 * Image preprocessing for pretrained weights: {@link preprocessImages} runs a
 * {@link PreprocessSpec} (the contract, in `arch/preprocess.ts`) on the active tfjs backend.
 *
 * Resizing is torchvision's `Resize(..., antialias=True)` with bilinear interpolation, which is
 * Pillow's `BILINEAR` resampling: a triangle filter whose support grows with the downscale
 * factor, with weights normalised per output pixel. It is separable, so each axis is one
 * out×in resampling matrix, built in JS (it is small), and the pixel work is two tf.matMul
 * passes on the backend. The matrices are banded (each output reads about 2·scale+1 inputs), so
 * they are cut into bands that each multiply only the input rows they read. Cropping is folded
 * into the matrices (only kept outputs get rows), so pixels the crop discards are never computed.
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
import type { Tensor2D, Tensor4D } from "../runtime/tensor.ts";
import type { RgbImage } from "./rgb_image.ts";
import {
  CAFFE_BGR_MEAN,
  IMAGENET_MEAN,
  IMAGENET_STD,
  type PreprocessSpec,
} from "../arch/preprocess.ts";

/**
 * One band of an axis's resampling matrix: `outCount` consecutive outputs (bands come in output
 * order) that read only the inputs [inStart, inStart + inCount), with `weights` the
 * outCount×inCount block (row-major). Outputs in the crop's zero padding have all-zero rows; a
 * band of only padding has inCount 0.
 */
interface ResampleBand {
  outCount: number;
  inStart: number;
  inCount: number;
  weights: Float32Array;
}

/**
 * Outputs per band. The full matrix is out×in but only about 2·scale+1 entries per row are
 * non-zero; cutting it into bands of consecutive outputs, each multiplied with just the input
 * rows it reads, keeps the matMul work near that, instead of out×in per column.
 */
const BAND_OUTPUTS = 32;

/** Python's round(): half to even, as torchvision's CenterCrop offsets use it. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * The resampling matrix, in bands, that resizes an axis from `inSize` to `resized` samples and
 * keeps `count` of them starting at `start` (negative or past the end: zero padding). The filter
 * is Pillow's antialiased bilinear: output i is centred at (i + 0.5) * scale in the source, the
 * triangle's support is max(scale, 1), and each row's weights are normalised to sum to 1.
 */
function resampleBands(
  inSize: number,
  resized: number,
  start: number,
  count: number,
): ResampleBand[] {
  const scale = inSize / resized;
  const support = Math.max(scale, 1); // the triangle's support is 1 before scaling
  const rows = Array.from({ length: count }, (_, o) => {
    const i = start + o;
    if (i < 0 || i >= resized) return undefined; // zero padding
    const center = (i + 0.5) * scale;
    // Pillow truncates toward zero here; both ends are clamped to the source.
    const lo = Math.max(Math.trunc(center - support + 0.5), 0);
    const hi = Math.min(Math.trunc(center + support + 0.5), inSize);
    const w = Array.from({ length: hi - lo }, (_, k) => {
      const t = Math.abs((lo + k - center + 0.5) / support);
      return t < 1 ? 1 - t : 0;
    });
    const sum = w.reduce((a, b) => a + b, 0);
    return { lo, weights: w.map((v) => v / sum) };
  });
  const bands: ResampleBand[] = [];
  for (let outStart = 0; outStart < count; outStart += BAND_OUTPUTS) {
    const band = rows.slice(outStart, outStart + BAND_OUTPUTS);
    const used = band.filter((row) => row !== undefined);
    const inStart = used.length ? Math.min(...used.map((row) => row.lo)) : 0;
    const inEnd = used.length ? Math.max(...used.map((row) => row.lo + row.weights.length)) : 0;
    const inCount = inEnd - inStart;
    const weights = new Float32Array(band.length * inCount);
    band.forEach((row, r) => {
      if (row) weights.set(row.weights, r * inCount + row.lo - inStart);
    });
    bands.push({ outCount: band.length, inStart, inCount, weights });
  }
  return bands;
}

/** Multiplies the banded matrix with `x` ([in, columns]): the result is [out, columns]. */
function resampleRows(x: Tensor2D, bands: ResampleBand[]): Tensor2D {
  const columns = x.shape[1];
  const parts = bands.map(({ outCount, inStart, inCount, weights }): Tensor2D =>
    inCount === 0 ? tf.zeros([outCount, columns]) as Tensor2D : tf.matMul(
      tf.tensor2d(weights, [outCount, inCount]),
      tf.slice(x, [inStart, 0], [inCount, columns]),
    )
  );
  return parts.length === 1 ? parts[0] : tf.concat(parts, 0);
}

/** Output geometry of one axis: resized length, first kept sample, kept count. */
interface AxisPlan {
  resized: number;
  start: number;
  count: number;
}

function positiveInteger(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`preprocess: ${what} must be a positive integer, got ${value}`);
  }
  return value;
}

/** Resized [height, width] of an image per the spec's `size` or `resize`. */
function resizedShape(height: number, width: number, spec: PreprocessSpec): [number, number] {
  if (spec.size) {
    return [positiveInteger(spec.size[0], "size[0]"), positiveInteger(spec.size[1], "size[1]")];
  }
  if (spec.resize === undefined) return [height, width];
  const short = positiveInteger(spec.resize, "resize");
  const long = Math.floor((short * Math.max(height, width)) / Math.min(height, width));
  return width <= height ? [long, short] : [short, long];
}

function axisPlan(resized: number, crop: number | undefined): AxisPlan {
  if (crop === undefined) return { resized, start: 0, count: resized };
  const start = crop > resized
    ? -Math.floor((crop - resized) / 2)
    : roundHalfEven((resized - crop) / 2);
  return { resized, start, count: crop };
}

/** Per-channel `x * scale + offset` (RGB order in, model order out) and channel order. */
function channelAffine(
  spec: PreprocessSpec,
): { scale: number[]; offset: number[]; bgr: boolean } {
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
      return { scale: [1, 1, 1], offset: CAFFE_BGR_MEAN.map((m) => -m), bgr: true };
    case "tf":
      return { scale: [1 / 127.5, 1 / 127.5, 1 / 127.5], offset: [-1, -1, -1], bgr: false };
    case "raw":
      return { scale: [1, 1, 1], offset: [0, 0, 0], bgr: false };
    default:
      throw new RangeError(`preprocess: unknown mode '${spec.mode}'`);
  }
}

/**
 * Resizes, crops and normalises images into one NHWC float32 batch on the active tfjs backend.
 *
 * Resizing matches torchvision's antialiased bilinear `Resize` on a float tensor exactly (to
 * float32 rounding) and torchvision on a PIL image to within Pillow's 8-bit rounding (≤ 1/255 of
 * the 0–1 range). Images may differ in size as long as the spec makes every output the same
 * size (a `crop`, a `size`, or equal shapes).
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
  if (spec.size && spec.resize !== undefined) {
    throw new RangeError("preprocess: give either size or resize, not both");
  }
  const crop = spec.crop === undefined ? undefined : positiveInteger(spec.crop, "crop");
  if (spec.mode !== "torch" && (spec.mean || spec.std)) {
    throw new RangeError(`preprocess: mean and std apply to torch mode only, not ${spec.mode}`);
  }
  const { scale, offset, bgr } = channelAffine(spec);
  const plans = images.map((image) => {
    if (image.data.length !== image.width * image.height * 3) {
      throw new RangeError(
        `preprocess: image of ${image.width}×${image.height} has ${image.data.length} bytes, expected ${
          image.width * image.height * 3
        }`,
      );
    }
    const [h, w] = resizedShape(image.height, image.width, spec);
    return { rows: axisPlan(h, crop), cols: axisPlan(w, crop) };
  });
  const { rows, cols } = plans[0];
  const mismatch = plans.findIndex((p) =>
    p.rows.count !== rows.count || p.cols.count !== cols.count
  );
  if (mismatch >= 0) {
    throw new RangeError(
      `preprocess: image ${mismatch} gives ${plans[mismatch].rows.count}×${
        plans[mismatch].cols.count
      } but image 0 gives ${rows.count}×${cols.count}; add a crop or a size`,
    );
  }
  return tf.tidy(() => {
    // Each image in its own tidy: a large photo's float copy is freed before the next one.
    const resized = images.map((image, n) =>
      tf.tidy(() => {
        const { width, height, data } = image;
        const { rows, cols } = plans[n];
        // Rows: [height, width·3] → [rows, width·3]. Rows first, as for a downscale this shrinks
        // what the column pass reads.
        const pixels = tf.cast(tf.tensor2d(data, [height, width * 3], "int32"), "float32");
        const tall = resampleRows(
          pixels,
          resampleBands(height, rows.resized, rows.start, rows.count),
        );
        // Columns: move them to the front, [width, rows·3] → [cols, rows·3], and back.
        const byColumn = tf.reshape(
          tf.transpose(tf.reshape(tall, [rows.count, width, 3]), [1, 0, 2]),
          [width, rows.count * 3],
        ) as Tensor2D;
        const wide = resampleRows(
          byColumn,
          resampleBands(width, cols.resized, cols.start, cols.count),
        );
        return tf.transpose(tf.reshape(wide, [cols.count, rows.count, 3]), [
          1,
          0,
          2,
        ]) as tf.Tensor3D;
      })
    );
    const batch = tf.stack(resized) as Tensor4D;
    const ordered = bgr ? tf.reverse(batch, -1) : batch;
    return tf.add(tf.mul(ordered, tf.tensor1d(scale)), tf.tensor1d(offset));
  });
}
