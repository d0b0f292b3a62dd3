/**
 * Calibration for int8 inference: the float32 network runs on onnxruntime over calibration
 * batches, with every activation an int8 graph quantizes (see `quantizedNodes`) as an extra
 * output, and the smallest and largest value of each is kept.
 *
 * @example
 * ```ts
 * import { createModel } from "./model.ts";
 * import { calibrateRanges } from "./calibrate.ts";
 * const model = createModel("cifar_resnet20", { seed: 1 });
 * const batch = { data: new Float32Array(2 * 32 * 32 * 3).fill(0.5), shape: [2, 32, 32, 3] };
 * const ranges = await calibrateRanges(model.plan, model.weights, [batch]);
 * console.log(ranges[0]); // { node: 0, min: 0.5, max: 0.5 }
 * ```
 *
 * @module
 */

import type { Plan } from "../arch/plan.ts";
import type { WeightMap } from "../arch/weights.ts";
import { exportOnnxWithOutputs } from "../convert/onnx_export.ts";
import { type ActivationRange, checkInt8Plan, quantizedNodes } from "../convert/quantize.ts";
import { loadOrt } from "./ort.ts";

/**
 * One calibration batch: NHWC float32 model inputs, preprocessed as the weights expect.
 *
 * @example
 * ```ts
 * import type { CalibrationBatch } from "./calibrate.ts";
 * const batch: CalibrationBatch = { data: new Float32Array(32 * 32 * 3), shape: [1, 32, 32, 3] };
 * console.log(batch.shape[0]); // 1
 * ```
 */
export interface CalibrationBatch {
  /** The values, NHWC. */
  data: Float32Array;
  /** `[batch, height, width, 3]`. */
  shape: number[];
}

/**
 * The range of every activation an int8 graph of the plan quantizes, over the batches (min/max
 * calibration), in plan order.
 *
 * @param plan The network.
 * @param weights Its float32 weights.
 * @param batches The calibration inputs, read one at a time.
 * @returns One range per node of `quantizedNodes(plan)`.
 * @throws {Error} When onnxruntime cannot load, or no batch came; {RangeError} for a plan
 *   int8 does not serve (see `checkInt8Plan`).
 *
 * @example
 * ```ts
 * import { createModel } from "./model.ts";
 * const model = createModel("cifar_resnet20", { seed: 1 });
 * const noise = { data: new Float32Array(32 * 32 * 3).map(Math.random), shape: [1, 32, 32, 3] };
 * const ranges = await calibrateRanges(model.plan, model.weights, [noise]);
 * console.log(ranges.every(({ min, max }) => min <= max)); // true
 * ```
 */
export async function calibrateRanges(
  plan: Plan,
  weights: WeightMap,
  batches: Iterable<CalibrationBatch> | AsyncIterable<CalibrationBatch>,
): Promise<ActivationRange[]> {
  checkInt8Plan(plan);
  const ort = await loadOrt();
  const nodes = quantizedNodes(plan);
  const onnx = await exportOnnxWithOutputs(plan, weights, nodes, { layout: "nhwc" });
  const session = await ort.InferenceSession.create(onnx, {
    intraOpNumThreads: navigator.hardwareConcurrency,
    interOpNumThreads: 1,
    executionMode: "sequential",
    graphOptimizationLevel: "all",
  });
  const ranges = nodes.map((node) => ({ node, min: Infinity, max: -Infinity }));
  try {
    for await (const { data, shape } of batches) {
      const outputs = await session.run({ input: new ort.Tensor("float32", data, shape) });
      for (const range of ranges) {
        const values = outputs[`node_${range.node}`].data as Float32Array;
        for (let i = 0; i < values.length; i++) {
          const v = values[i];
          if (v < range.min) range.min = v;
          if (v > range.max) range.max = v;
        }
      }
    }
  } finally {
    await session.release();
  }
  if (ranges.some(({ min }) => min === Infinity)) throw new Error("calibration: no batches");
  return ranges;
}
