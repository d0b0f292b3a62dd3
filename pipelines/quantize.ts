/**
 * int8 calibration from image files: each image is decoded and preprocessed as the weights expect
 * (`decodeForModel`, `scaleImages`), the float32 network runs on them in batches on onnxruntime,
 * and the range of every activation the int8 graph quantizes is recorded with the set's size and
 * fingerprint (see `Calibration`).
 *
 * @example
 * ```ts
 * import { createModel } from "../runtime/model.ts";
 * import { CIFAR10_TORCH } from "../arch/preprocess.ts";
 * import { calibrateOnFiles } from "./quantize.ts";
 * const model = createModel("cifar_resnet20", { seed: 1 });
 * const files = ["testdata/images/cat.jpg", "testdata/images/fish-bike.jpg"];
 * const calibration = await calibrateOnFiles(model.plan, model.weights, files, CIFAR10_TORCH);
 * console.log(calibration.images, calibration.ranges.length); // 2 32
 * ```
 *
 * @module
 */

import type { Plan } from "../arch/plan.ts";
import type { WeightMap } from "../arch/weights.ts";
import type { PreprocessSpec } from "../arch/preprocess.ts";
import type { Calibration } from "../convert/quantize.ts";
import { calibrateRanges, type CalibrationBatch } from "../runtime/calibrate.ts";
import { hashBytes } from "../hub/hash.ts";
import { decodeForModel } from "../vision/decode.ts";
import { scaleImages } from "../vision/preprocess.ts";

/**
 * Calibrates an int8 graph of a network on image files (min/max of every quantized activation).
 *
 * @param plan The network.
 * @param weights Its float32 weights.
 * @param files Calibration images, in the order run (it enters the fingerprint).
 * @param preprocess The weights' preprocessing.
 * @param batch Images per forward pass (default 2: every activation of a batch comes back from
 *   onnxruntime at once, about 150 MB per 224×224 image for a ResNet-50).
 * @returns The calibration: ranges, image count, and the SHA-256 of the images' SHA-256 digests.
 * @throws {RangeError} Without files. {ZooFormatError} For a file that is no image.
 *
 * @example
 * ```ts
 * import { createModel } from "../runtime/model.ts";
 * import { TORCHVISION_V1 } from "../arch/preprocess.ts";
 * const model = createModel("resnet18", { seed: 1 });
 * const calibration = await calibrateOnFiles(model.plan, model.weights, ["testdata/images/cat.jpg"], TORCHVISION_V1);
 * console.log(calibration.method, calibration.sha256.length); // minmax 64
 * ```
 */
export async function calibrateOnFiles(
  plan: Plan,
  weights: WeightMap,
  files: string[],
  preprocess: PreprocessSpec,
  batch = 2,
): Promise<Calibration> {
  if (files.length === 0) throw new RangeError("calibration needs at least one image");
  const digests: string[] = [];
  async function* batches(): AsyncGenerator<CalibrationBatch> {
    for (let start = 0; start < files.length; start += batch) {
      const inputs = await Promise.all(
        files.slice(start, start + batch).map(async (file, i) => {
          const bytes = await Deno.readFile(file);
          digests[start + i] = hashBytes(bytes, "sha256");
          return await decodeForModel(bytes, file, preprocess);
        }),
      );
      const { width, height } = inputs[0];
      yield { data: scaleImages(inputs, preprocess), shape: [inputs.length, height, width, 3] };
    }
  }
  const ranges = await calibrateRanges(plan, weights, batches());
  const fingerprint = hashBytes(new TextEncoder().encode(digests.join("")), "sha256");
  return { method: "minmax", images: files.length, sha256: fingerprint, ranges };
}
