/**
 * The label contract: which class names a model's outputs carry. A model names its classes by
 * one of the label sets the zoo knows (the 1000 ImageNet classes, in the index order shared by
 * Keras, torchvision and the ONNX model zoo; the same 1000 after a "background" class, as
 * TensorFlow's official and slim models number their 1001 outputs; and the 10 CIFAR-10 classes),
 * or by a list of names
 * of its own (a zoo file may record one, as transformers.js models carry `id2label`). Whatever
 * names are used, there must be exactly one per output: {@link classNames} refuses a set of
 * another size rather than print a wrong name.
 *
 * The ImageNet names are bundled as JSON and loaded with a static import, so they work from a
 * local checkout and from a published package alike, without file-system access.
 *
 * @example
 * ```ts
 * import { classNames, labelsFor } from "./labels.ts";
 * console.log(labelsFor("imagenet")[281]); // "tabby"
 * console.log(classNames("cifar10", 10)[3]); // "cat"
 * ```
 *
 * @module
 */

import classIndex from "./imagenet_class_index.json" with { type: "json" };
import { ZooFormatError } from "./errors.ts";

/**
 * The names of the label sets the zoo knows: the one list that the registry, the zoo file, the
 * defaults and the command line all check against.
 *
 * @example
 * ```ts
 * import { LABEL_SETS } from "./labels.ts";
 * console.log(LABEL_SETS); // [ "imagenet", "imagenet_background", "cifar10" ]
 * ```
 */
export const LABEL_SETS: readonly ["imagenet", "imagenet_background", "cifar10"] = Object.freeze(
  ["imagenet", "imagenet_background", "cifar10"] as const,
);

/**
 * A label set the zoo knows (see {@link LABEL_SETS}).
 *
 * @example
 * ```ts
 * import { type LabelSet, labelsFor } from "./labels.ts";
 * const set: LabelSet = "cifar10";
 * console.log(labelsFor(set)[3]); // cat
 * ```
 */
export type LabelSet = typeof LABEL_SETS[number];

/**
 * A model's class names: a label set the zoo knows, or the names themselves, index i naming
 * output i.
 *
 * @example
 * ```ts
 * import { classNames, type Labels } from "./labels.ts";
 * const mine: Labels = ["cat", "dog"];
 * console.log(classNames(mine, 2), classNames("cifar10", 10).length); // [ "cat", "dog" ] 10
 * ```
 */
export type Labels = LabelSet | readonly string[];

/**
 * Whether a value names a label set the zoo knows.
 *
 * @example
 * ```ts
 * import { isLabelSet } from "./labels.ts";
 * console.log(isLabelSet("cifar10"), isLabelSet("cifar100")); // true false
 * ```
 */
export function isLabelSet(value: unknown): value is LabelSet {
  return (LABEL_SETS as readonly unknown[]).includes(value);
}

/** `{"0": ["n01440764", "tench"], …}`: WordNet id and name per class index. */
const IMAGENET_CLASS_INDEX: Record<string, string[]> = classIndex;

const IMAGENET_LABELS: readonly string[] = Object.freeze(
  Array.from({ length: 1000 }, (_, i) => IMAGENET_CLASS_INDEX[String(i)][1]),
);

/**
 * TensorFlow's 1001 outputs: its ImageNet records number the classes from 1 in the same (WordNet
 * id) order and keep 0 for "background", so output i + 1 is ImageNet class i.
 */
const IMAGENET_BACKGROUND_LABELS: readonly string[] = Object.freeze([
  "background",
  ...IMAGENET_LABELS,
]);

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
 * @param set `"imagenet"` (1000 classes), `"imagenet_background"` (1001: "background", then
 *   ImageNet's 1000) or `"cifar10"` (10 classes).
 * @returns A frozen list of names.
 *
 * @example
 * ```ts
 * import { labelsFor } from "./labels.ts";
 * const top = 281;
 * console.log(labelsFor("imagenet")[top]); // "tabby"
 * console.log(labelsFor("imagenet_background")[top + 1]); // "tabby"
 * ```
 */
export function labelsFor(set: LabelSet): readonly string[] {
  switch (set) {
    case "imagenet":
      return IMAGENET_LABELS;
    case "imagenet_background":
      return IMAGENET_BACKGROUND_LABELS;
    case "cifar10":
      return cifar10Labels;
    default:
      throw new RangeError(`unknown label set '${set}', expected one of ${LABEL_SETS.join(", ")}`);
  }
}

/** How a set of labels is named in an error: the set's name, or how many names it lists. */
function describeLabels(labels: Labels): string {
  return typeof labels === "string" ? `label set '${labels}'` : "the class names given";
}

/**
 * The class names of a model with `classes` outputs: the names a label set or list gives,
 * refused when their number is not `classes` (a 10-class model must not print ImageNet names).
 *
 * @throws {RangeError} When the labels name another number of classes, saying both numbers.
 *
 * @example
 * ```ts
 * import { classNames } from "./labels.ts";
 * console.log(classNames("cifar10", 10)[0]); // airplane
 * try {
 *   classNames("imagenet", 10);
 * } catch (error) {
 *   console.log((error as Error).message);
 *   // label set 'imagenet' has 1000 names, but the model has 10 classes
 * }
 * ```
 */
export function classNames(labels: Labels, classes: number): readonly string[] {
  const names = typeof labels === "string" ? labelsFor(labels) : labels;
  if (names.length !== classes) {
    throw new RangeError(
      `${describeLabels(labels)} has ${names.length} names, but the model has ${classes} classes`,
    );
  }
  return names;
}

/**
 * Class names from the text of a label file, in any of three forms: a JSON array of names
 * (`["cat", "dog"]`), a JSON object from class index to a name or to `[id, name]` as Keras's
 * `imagenet_class_index.json` has (`{"0": ["n01440764", "tench"], …}`), or plain text with one
 * name per line (blank lines at the end ignored, as `synset_words.txt`-style files have none
 * inside).
 *
 * @param text The file's contents.
 * @param file The file's name, for errors.
 * @throws {ZooFormatError} When the text is none of the three forms, naming the file and why.
 *
 * @example
 * ```ts
 * import { parseLabelFile } from "./labels.ts";
 * console.log(parseLabelFile('["cat", "dog"]', "a.json")); // [ "cat", "dog" ]
 * console.log(parseLabelFile('{"1": ["n2", "dog"], "0": ["n1", "cat"]}', "b.json")); // [ "cat", "dog" ]
 * console.log(parseLabelFile("cat\ndog\n", "c.txt")); // [ "cat", "dog" ]
 * ```
 */
export function parseLabelFile(text: string, file: string): string[] {
  const trimmed = text.trim();
  if (trimmed === "") throw new ZooFormatError(file, "no class names in the file");
  if (!/^[[{]/.test(trimmed)) {
    const lines = trimmed.split(/\r?\n/).map((line) => line.trim());
    const blank = lines.findIndex((line) => line === "");
    if (blank >= 0) {
      throw new ZooFormatError(file, `line ${blank + 1} is blank: give one class name per line`);
    }
    return lines;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(trimmed);
  } catch (error) {
    throw new ZooFormatError(file, `invalid JSON: ${(error as Error).message}`);
  }
  if (Array.isArray(parsed)) {
    const bad = parsed.findIndex((name) => typeof name !== "string" || name === "");
    if (bad >= 0) throw new ZooFormatError(file, `item ${bad} is not a non-empty string`);
    return parsed;
  }
  return indexedNames(parsed as Record<string, unknown>, file);
}

/** The names of a `{"0": name or [id, name], …}` object, which must number 0 to n − 1. */
function indexedNames(index: Record<string, unknown>, file: string): string[] {
  const keys = Object.keys(index);
  const names: string[] = [];
  for (let i = 0; i < keys.length; i++) {
    if (!Object.hasOwn(index, String(i))) {
      throw new ZooFormatError(
        file,
        `the keys must be the class indices 0 to ${keys.length - 1}; '${i}' is missing`,
      );
    }
    const entry = index[String(i)];
    const name = Array.isArray(entry) ? entry[entry.length - 1] : entry;
    if (typeof name !== "string" || name === "") {
      throw new ZooFormatError(
        file,
        `class '${i}' must be a name or an [id, name] pair, got ${
          JSON.stringify(entry)?.slice(0, 100)
        }`,
      );
    }
    names.push(name);
  }
  return names;
}
