/**
 * Class names of the label sets the zoo's weights predict: the 1000 ImageNet classes (in the
 * index order shared by Keras, torchvision and the ONNX model zoo) and the 10 CIFAR-10 classes.
 *
 * The ImageNet names are bundled as JSON and loaded with a static import, so they work from a
 * local checkout and from a published package alike, without file-system access.
 *
 * @example
 * ```ts
 * import { labelsFor } from "./labels.ts";
 * console.log(labelsFor("imagenet")[281]); // "tabby"
 * console.log(labelsFor("cifar10")[3]); // "cat"
 * ```
 *
 * @module
 */

import classIndex from "./imagenet_class_index.json" with { type: "json" };

/**
 * The label sets of the zoo's models.
 *
 * @example
 * ```ts
 * import { type LabelSet, labelsFor } from "./labels.ts";
 * const set: LabelSet = "cifar10";
 * console.log(labelsFor(set)[3]); // cat
 * ```
 */
export type LabelSet = "imagenet" | "cifar10";

/** `{"0": ["n01440764", "tench"], …}`: WordNet id and name per class index. */
const IMAGENET_CLASS_INDEX: Record<string, string[]> = classIndex;

const IMAGENET_LABELS: readonly string[] = Object.freeze(
  Array.from({ length: 1000 }, (_, i) => IMAGENET_CLASS_INDEX[String(i)][1]),
);

/**
 * The 1000 ImageNet class names in index order, as Keras's `imagenet_class_index.json` spells
 * them (words joined by underscores, e.g. `great_white_shark`). A fresh array on each call.
 *
 * @returns 1000 names; index i is the model's output i.
 *
 * @example
 * ```ts
 * import { imagenetLabels } from "./labels.ts";
 * const labels = imagenetLabels();
 * console.log(labels.length, labels[0], labels[652]); // 1000 "tench" "military_uniform"
 * ```
 */
export function imagenetLabels(): string[] {
  return [...IMAGENET_LABELS];
}

/**
 * The 10 CIFAR-10 class names in label order (0 airplane … 9 truck).
 *
 * @example
 * ```ts
 * import { cifar10Labels } from "./labels.ts";
 * console.log(cifar10Labels[3]); // "cat"
 * ```
 */
export const cifar10Labels: readonly string[] = Object.freeze([
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

/**
 * The class names of a label set, index i naming model output i.
 *
 * @param set `"imagenet"` (1000 classes) or `"cifar10"` (10 classes).
 * @returns A frozen list of names.
 *
 * @example
 * ```ts
 * import { labelsFor } from "./labels.ts";
 * const top = 281;
 * console.log(labelsFor("imagenet")[top]); // "tabby"
 * ```
 */
export function labelsFor(set: LabelSet): readonly string[] {
  switch (set) {
    case "imagenet":
      return IMAGENET_LABELS;
    case "cifar10":
      return cifar10Labels;
    default:
      throw new RangeError(`unknown label set '${set}', expected "imagenet" or "cifar10"`);
  }
}
