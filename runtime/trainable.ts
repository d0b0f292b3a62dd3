/**
 * The LayersModel a zoo model hands out (`model.layersModel`), ready for what users do with one:
 * the backend started if nothing chose one, `file://` saving and loading registered, and tfjs-cpu's
 * slow filter gradient replaced, so that `fit` and `save` work on the first call. A classifier and
 * a feature backbone build theirs here, so neither misses a step the other takes.
 *
 * @example
 * ```ts
 * import { getSpec } from "../arch/presets.ts";
 * import { planResNet } from "../arch/plan.ts";
 * import { initialWeights } from "../arch/weights.ts";
 * const plan = planResNet(getSpec("cifar_resnet20"));
 * const m = trainableLayersModel(plan, { inputShape: [32, 32] }, initialWeights(plan, 1));
 * console.log(m.countParams()); // 272474
 * m.dispose();
 * ```
 *
 * @module
 */

import type { LayersModel } from "./tensor.ts";
import type { Plan } from "../arch/plan.ts";
import type { WeightMap } from "../arch/weights.ts";
import { buildLayersModel, type LayersModelOptions } from "./layers.ts";
import { startBackendIfNone } from "./backend.ts";
import { registerFileRouters } from "./file_io.ts";
import { useFastCpuFilterGradient } from "./cpu_gradients.ts";

/**
 * Builds a plan's LayersModel with `weights`, after starting what saving and training it need.
 *
 * @example
 * ```ts
 * import { getSpec } from "../arch/presets.ts";
 * import { planResNet } from "../arch/plan.ts";
 * import { initialWeights } from "../arch/weights.ts";
 * const plan = planResNet(getSpec("cifar_resnet20"));
 * const m = trainableLayersModel(plan, { inputShape: [32, 32] }, initialWeights(plan, 1));
 * console.log(m.inputs[0].shape); // [ null, 32, 32, 3 ]
 * m.dispose();
 * ```
 */
export function trainableLayersModel(
  plan: Plan,
  options: LayersModelOptions,
  weights: WeightMap,
): LayersModel {
  startBackendIfNone();
  registerFileRouters();
  useFastCpuFilterGradient();
  return buildLayersModel(plan, options, weights);
}
