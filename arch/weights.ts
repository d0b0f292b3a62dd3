/**
 * The in-memory weight map every importer produces and every model consumes:
 * `layer/param` → float32 data in the zoo layout (HWIO kernels, `[in, out]` dense).
 *
 * @example
 * ```ts
 * import { getSpec } from "./presets.ts";
 * import { planResNet } from "./plan.ts";
 * import { initialWeights } from "./weights.ts";
 * const weights = initialWeights(planResNet(getSpec("cifar_resnet20")), 1);
 * console.log(weights.get("conv1/kernel")?.shape); // [3, 3, 3, 16]
 * ```
 *
 * @module
 */

import type { ResNetSpec } from "./spec.ts";
import type { Plan, WeightSlot } from "./plan.ts";
import { planResNet, weightSlots } from "./plan.ts";

/**
 * One weight in the zoo layout.
 *
 * @example
 * ```ts
 * import type { Weight } from "./weights.ts";
 * const bias: Weight = { shape: [2], data: new Float32Array([0.5, -1]) };
 * console.log(bias.shape); // [ 2 ]
 * ```
 */
export interface Weight {
  /** Dimensions, outermost first. */
  shape: number[];
  /** Row-major float32 elements. */
  data: Float32Array;
  /**
   * Present where `data` is computed on first read (a deferred layout change, see
   * `deferTranspose`): writes the elements into the start of `target` without keeping them,
   * so that a file writer streams the weight through one reused buffer.
   */
  writeInto?: (target: Float32Array) => void;
}

/**
 * `layer/param` → weight, in the zoo layout.
 *
 * @example
 * ```ts
 * import { getSpec } from "./presets.ts";
 * import { planResNet } from "./plan.ts";
 * import { initialWeights, type WeightMap } from "./weights.ts";
 * const weights: WeightMap = initialWeights(planResNet(getSpec("cifar_resnet20")));
 * console.log(weights.get("linear/kernel")?.shape); // [ 64, 10 ]
 * ```
 */
export type WeightMap = Map<string, Weight>;

/**
 * Deterministic pseudo-random numbers in [0, 1) (mulberry32): what makes initial weights, and
 * the shuffles of a training run, reproducible from a seed.
 *
 * @example
 * ```ts
 * const random = seededRandom(1);
 * console.log(random() === seededRandom(1)()); // true
 * ```
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Keras' initialisers: He-normal-like uniform for kernels, zeros/ones for the rest. */
function initialValue(slot: WeightSlot, random: () => number): Float32Array {
  const size = slot.shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(size);
  if (slot.param === "kernel") {
    const fanIn = slot.shape.slice(0, -1).reduce((a, b) => a * b, 1);
    const limit = Math.sqrt(6 / fanIn);
    for (let i = 0; i < size; i++) data[i] = (random() * 2 - 1) * limit;
  } else if (slot.param === "gamma" || slot.param === "moving_variance") {
    data.fill(1);
  }
  return data;
}

/**
 * Freshly initialised weights for a plan (He-uniform kernels, identity BatchNorms).
 *
 * @example
 * ```ts
 * import { getSpec } from "./presets.ts";
 * import { planResNet } from "./plan.ts";
 * const w = initialWeights(planResNet(getSpec("resnet18")), 42);
 * console.log(w.size); // 102
 * ```
 */
export function initialWeights(plan: Plan, seed = 0): WeightMap {
  return initialise(weightSlots(plan), seed);
}

/** Fresh values for some slots, drawn in order from one seeded source. */
function initialise(slots: WeightSlot[], seed: number): WeightMap {
  const random = seededRandom(seed);
  return new Map(
    slots.map((slot) => [slot.name, { shape: slot.shape, data: initialValue(slot, random) }]),
  );
}

/**
 * Checks that a weight map holds exactly what a plan needs, with the right shapes;
 * the error names the first missing, surplus or misshapen tensor.
 *
 * @example
 * ```ts
 * import { getSpec } from "./presets.ts";
 * import { planResNet } from "./plan.ts";
 * const plan = planResNet(getSpec("cifar_resnet20"));
 * checkWeights(plan, initialWeights(plan)); // no throw
 * ```
 */
export function checkWeights(plan: Plan, weights: WeightMap, source = "weights"): void {
  const slots = weightSlots(plan);
  for (const slot of slots) {
    const weight = weights.get(slot.name);
    if (!weight) {
      throw new Error(`${source}: missing tensor '${slot.name}' (shape [${slot.shape}])`);
    }
    if (weight.shape.join() !== slot.shape.join()) {
      throw new Error(
        `${source}: tensor '${slot.name}' has shape [${weight.shape}], expected [${slot.shape}]`,
      );
    }
  }
  const expected = new Set(slots.map((s) => s.name));
  for (const name of weights.keys()) {
    if (!expected.has(name)) throw new Error(`${source}: unexpected tensor '${name}'`);
  }
}

/**
 * Options of {@link fitWeights}.
 *
 * @example
 * ```ts
 * import type { FitOptions } from "./weights.ts";
 * const options: FitOptions = { newHead: true, seed: 3, source: "resnet20.safetensors" };
 * console.log(options.newHead); // true
 * ```
 */
export interface FitOptions {
  /**
   * The classifier may be new: one the weights lack, or whose size differs from the plan's,
   * is initialised fresh (seeded) instead of refused.
   */
  newHead?: boolean;
  /** Seed of a new classifier's initial weights (default 0). */
  seed?: number;
  /** How errors name the weights (default `weights`). */
  source?: string;
}

/**
 * Fits pretrained weights of a spec to a plan of that spec whose head may differ (timm's
 * `num_classes`, Keras' `include_top`): a classifier the plan does not have is dropped, as are
 * layers past a feature plan's last map; with `newHead`, a classifier that the weights lack or
 * whose size differs is initialised fresh. Every other tensor must be the plan's, with its
 * shape: one that is not is refused, naming it.
 *
 * @returns The plan's weights, sharing the given tensors' data.
 *
 * @example
 * ```ts
 * import { getSpec } from "./presets.ts";
 * import { planResNet } from "./plan.ts";
 * const spec = getSpec("cifar_resnet20");
 * const pretrained = initialWeights(planResNet(spec), 1);
 * const backbone = fitWeights(spec, planResNet(spec, { includeTop: false }), pretrained);
 * console.log(pretrained.size, backbone.size); // 97 95
 * const twoClasses = fitWeights(spec, planResNet(spec, { classes: 2 }), pretrained, { newHead: true });
 * console.log(twoClasses.get("linear/kernel")?.shape); // [ 64, 2 ]
 * try {
 *   fitWeights(spec, planResNet(spec, { classes: 2 }), pretrained);
 * } catch (error) {
 *   console.log((error as Error).message);
 *   // weights: tensor 'linear/kernel' has shape [64,10], expected [64,2] (a new classifier needs `classes`)
 * }
 * ```
 */
export function fitWeights(
  spec: ResNetSpec,
  plan: Plan,
  weights: WeightMap,
  options: FitOptions = {},
): WeightMap {
  const source = options.source ?? "weights";
  const head = new Set([`${spec.naming.dense}/kernel`, `${spec.naming.dense}/bias`]);
  const known = new Set(weightSlots(planResNet(spec, { includeTop: false })).map((s) => s.name));
  for (const name of weights.keys()) {
    if (!known.has(name) && !head.has(name)) {
      throw new Error(`${source}: unexpected tensor '${name}'`);
    }
  }
  const fitted: WeightMap = new Map();
  const fresh: WeightSlot[] = [];
  for (const slot of weightSlots(plan)) {
    const weight = weights.get(slot.name);
    const fits = weight?.shape.join() === slot.shape.join();
    if (head.has(slot.name) && options.newHead && !fits) {
      fresh.push(slot);
    } else if (!weight) {
      throw new Error(`${source}: missing tensor '${slot.name}' (shape [${slot.shape}])`);
    } else if (!fits) {
      const hint = head.has(slot.name) ? " (a new classifier needs `classes`)" : "";
      throw new Error(
        `${source}: tensor '${slot.name}' has shape [${weight.shape}], expected [${slot.shape}]${hint}`,
      );
    } else {
      fitted.set(slot.name, weight);
    }
  }
  for (const [name, weight] of initialise(fresh, options.seed ?? 0)) fitted.set(name, weight);
  return fitted;
}
