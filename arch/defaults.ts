/**
 * What to assume of weights whose file does not say: the preprocessing a ResNet family is
 * usually trained with, and the label set a classifier's class count implies. Both are tables,
 * so a new family or label set is a new row, not a new branch in the code that loads models.
 *
 * A zoo file records its preprocessing and labels, and a registry entry knows them, so these
 * guesses serve only foreign files that match no registry entry, and networks run from their
 * own graph.
 *
 * @example
 * ```ts
 * import { defaultLabelSet, defaultPreprocess } from "./defaults.ts";
 * import { getSpec } from "./presets.ts";
 * console.log(defaultPreprocess(getSpec("resnet50v2")).mode); // "tf"
 * console.log(defaultLabelSet(10)); // "cifar10"
 * ```
 *
 * @module
 */

import type { ResNetSpec } from "./spec.ts";
import { LABEL_SETS, type LabelSet, labelsFor } from "./labels.ts";
import { PREPROCESS_PRESETS, type PreprocessSpec } from "./preprocess.ts";

/** The fields of a spec that tell which family, and so which training recipe, it comes from. */
export interface SpecFamily {
  /** CIFAR nets are trained on 32×32 images, ImageNet nets on 224×224 crops. */
  stem: ResNetSpec["stem"];
  /** The naming scheme's id: which framework's layer names the weights carry. */
  naming: string;
  /** Pre-activation (v2) blocks: Keras trained its V2 nets with `tf` scaling, its v1 with `caffe`. */
  preact: boolean;
}

/**
 * The usual preprocessing per family, as names of `PREPROCESS_PRESETS`: the first row whose
 * fields all equal the spec's applies. The last row, with no fields, is the fallback, and also
 * what a network run from its own graph (no spec at all) gets.
 */
const FAMILY_PREPROCESS: readonly { when: Partial<SpecFamily>; preset: string }[] = [
  // He et al.'s CIFAR nets, as the akamaster checkpoints were trained.
  { when: { stem: "cifar" }, preset: "CIFAR10_TORCH" },
  // Keras Applications: ResNet V2 scales to [−1, 1], ResNet v1 subtracts the Caffe BGR means.
  { when: { naming: "keras", preact: true }, preset: "KERAS_TF" },
  { when: { naming: "keras", preact: false }, preset: "KERAS_CAFFE" },
  // TensorFlow's official ResNet subtracts the RGB means, unscaled.
  { when: { naming: "tf_official" }, preset: "TF_OFFICIAL" },
  // timm's ResNet-V2 (BiT) configs: resize 256, crop 224, mean and std 0.5, which is x/127.5 − 1.
  { when: { naming: "timm_v2" }, preset: "KERAS_TF" },
  // torchvision's original recipe, which most exported ImageNet ResNets follow.
  { when: {}, preset: "TORCHVISION_V1" },
];

/**
 * The family fields of a spec.
 *
 * @example
 * ```ts
 * import { getSpec } from "./presets.ts";
 * console.log(familyOf(getSpec("resnet50"))); // { stem: "imagenet", naming: "torchvision", preact: false }
 * ```
 */
export function familyOf(spec: Pick<ResNetSpec, "stem" | "naming" | "preact">): SpecFamily {
  return { stem: spec.stem, naming: spec.naming.id, preact: spec.preact };
}

/**
 * The preprocessing to assume for weights of a spec's family when nothing records it; without
 * a spec (a network run from its own graph), torchvision's.
 *
 * @example
 * ```ts
 * import { getSpec } from "./presets.ts";
 * console.log(defaultPreprocess(getSpec("cifar_resnet20")).size); // [32, 32]
 * console.log(defaultPreprocess(getSpec("resnet50")).resize); // 256
 * console.log(defaultPreprocess().mode); // "torch"
 * ```
 */
export function defaultPreprocess(
  spec?: Pick<ResNetSpec, "stem" | "naming" | "preact">,
): PreprocessSpec {
  const family = spec ? familyOf(spec) : undefined;
  const row = FAMILY_PREPROCESS.find(({ when }) =>
    (Object.keys(when) as (keyof SpecFamily)[]).every((key) => family?.[key] === when[key])
  )!;
  return PREPROCESS_PRESETS[row.preset];
}

/**
 * The label set to assume for a classifier with this many classes when nothing records it: the
 * set of exactly that size; none (the classes are then shown by index) when no set has that
 * many names, since a set of another size would name outputs wrongly.
 *
 * @example
 * ```ts
 * console.log(defaultLabelSet(10), defaultLabelSet(1000), defaultLabelSet(5)); // cifar10 imagenet undefined
 * ```
 */
export function defaultLabelSet(classes: number): LabelSet | undefined {
  return LABEL_SETS.find((set) => labelsFor(set).length === classes);
}

/**
 * The preprocessing to assume for a network run from its own graph: torchvision's scaling, at
 * the height and width its input declares, or torchvision's resize and crop to 224 when it
 * declares none. (A graph records its input size, not how its images were scaled.)
 *
 * @example
 * ```ts
 * console.log(graphPreprocess([16, 16])); // { mode: "torch", size: [ 16, 16 ] }
 * console.log(graphPreprocess().crop); // 224
 * ```
 */
export function graphPreprocess(inputSize?: [number, number]): PreprocessSpec {
  const fallback = defaultPreprocess();
  return inputSize ? { mode: fallback.mode, size: inputSize } : fallback;
}
