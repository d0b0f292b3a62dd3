/**
 * What a model file records of how to use the model, under the same keys and in the same JSON
 * in every file the zoo writes (a zoo file's safetensors `__metadata__`, an ONNX export's
 * `metadata_props`), so a model keeps its preprocessing and class names from one format to the
 * next:
 *
 * - `denozoo.preprocess`: the preprocessing its weights were trained with, as JSON
 * - `denozoo.labels`: the name of a label set the zoo knows (`imagenet`, `imagenet_background`,
 *   `cifar10`)
 * - `denozoo.class_names`: or the class names themselves, a JSON array with one name per class
 *   (exclusive with `denozoo.labels`)
 *
 * Both are optional. Readers check them (see `metadata_rules.ts`): a corrupt value is a
 * `ZooFormatError` naming the file and the key, and class names must number the model's
 * classes.
 *
 * @example
 * ```ts
 * import { readUsageMetadata, usageMetadata } from "./usage_metadata.ts";
 * const strings = usageMetadata({ labels: ["kitty", "doggo"] }, 2, "mine");
 * console.log(strings); // { "denozoo.class_names": '["kitty","doggo"]' }
 * console.log(readUsageMetadata(strings, 2, "mine.onnx").labels); // [ "kitty", "doggo" ]
 * try {
 *   readUsageMetadata(strings, 10, "mine.onnx");
 * } catch (error) {
 *   console.log((error as Error).message);
 *   // mine.onnx: metadata 'denozoo.class_names': 2 names, but the model has 10 classes
 * }
 * ```
 *
 * @module
 */

import { INTERPOLATIONS, type PreprocessSpec } from "../arch/preprocess.ts";
import { isLabelSet, LABEL_SETS, type Labels } from "../arch/labels.ts";
import { ZooFormatError } from "../arch/errors.ts";
import type { OnnxModel } from "../formats/onnx.ts";
import {
  fieldProblem,
  isCount,
  isNumber,
  listOf,
  oneOf,
  optional,
  parseField,
  POSITIVE,
  type Rule,
} from "./metadata_rules.ts";

/**
 * How to use a model, as its file records it.
 *
 * @example
 * ```ts
 * import type { ModelUsage } from "./usage_metadata.ts";
 * const usage: ModelUsage = { labels: "cifar10", preprocess: { size: [32, 32], mode: "torch" } };
 * console.log(usage.labels); // cifar10
 * ```
 */
export interface ModelUsage {
  /** Preprocessing the weights were trained with. */
  preprocess?: PreprocessSpec;
  /** The classifier's class names: a label set the zoo knows, or the names themselves. */
  labels?: Labels;
}

/** The metadata keys, one place for writers and readers. */
const KEYS = {
  preprocess: "denozoo.preprocess",
  labels: "denozoo.labels",
  classNames: "denozoo.class_names",
} as const;

/**
 * The metadata strings that record how to use a model with `classes` outputs; `model` names it
 * in the error.
 *
 * @throws {RangeError} For class names that do not number `classes`.
 *
 * @example
 * ```ts
 * import { usageMetadata } from "./usage_metadata.ts";
 * console.log(usageMetadata({ labels: "cifar10" }, 10, "cifar_resnet20")); // { "denozoo.labels": "cifar10" }
 * ```
 */
export function usageMetadata(
  usage: ModelUsage,
  classes: number,
  model: string,
): Record<string, string> {
  const metadata: Record<string, string> = {};
  if (usage.preprocess !== undefined) metadata[KEYS.preprocess] = JSON.stringify(usage.preprocess);
  if (typeof usage.labels === "string") metadata[KEYS.labels] = usage.labels;
  else if (usage.labels) {
    if (usage.labels.length !== classes) {
      throw new RangeError(
        `${usage.labels.length} class names for ${model}, which has ${classes} classes`,
      );
    }
    metadata[KEYS.classNames] = JSON.stringify(usage.labels);
  }
  return metadata;
}

const RGB: Rule = { what: "a list of 3 numbers", ok: (v) => listOf(v, isNumber, 3) };

const PREPROCESS_RULES: { readonly [K in keyof PreprocessSpec]-?: Rule } = {
  resize: optional(POSITIVE),
  crop: optional(POSITIVE),
  size: optional({
    what: "a list of 2 positive integers",
    ok: (v) => listOf(v, (n) => isCount(n, 1), 2),
  }),
  // Added later: a file without it was resized bilinear, the default.
  interpolation: optional(oneOf(...INTERPOLATIONS)),
  mode: oneOf("torch", "caffe", "tf", "raw"),
  mean: optional(RGB),
  std: optional(RGB),
};

/** What is wrong with a parsed preprocessing, if anything. */
function preprocessProblem(value: unknown): string | undefined {
  const found = fieldProblem(value, PREPROCESS_RULES);
  if (found) return found;
  const spec = value as PreprocessSpec;
  if (spec.size && spec.resize !== undefined) {
    return "fields 'size' and 'resize' exclude each other";
  }
  return undefined;
}

/** The labels the metadata records: a label set's name, or class names numbering the classes. */
function recordedLabels(
  strings: Readonly<Record<string, string>>,
  classes: number,
  file: string,
): Labels | undefined {
  const set = strings[KEYS.labels];
  const hasNames = strings[KEYS.classNames] !== undefined;
  if (set !== undefined && hasNames) {
    throw new ZooFormatError(
      file,
      `metadata has both '${KEYS.labels}' and '${KEYS.classNames}'; keep one`,
    );
  }
  if (set !== undefined) {
    if (isLabelSet(set)) return set;
    throw new ZooFormatError(
      file,
      `metadata '${KEYS.labels}': must be one of ${LABEL_SETS.join(", ")}, got ` +
        JSON.stringify(set.slice(0, 100)),
    );
  }
  if (!hasNames) return undefined;
  return parseField<string[]>(strings, KEYS.classNames, file, (value) => {
    if (!Array.isArray(value) || value.some((name) => typeof name !== "string" || name === "")) {
      return "must be a JSON array of non-empty strings";
    }
    return value.length === classes
      ? undefined
      : `${value.length} names, but the model has ${classes} classes`;
  });
}

/**
 * Reads how to use a model with `classes` outputs from its file's metadata strings, checked;
 * what they do not record is absent.
 *
 * @throws {ZooFormatError} Naming `file` and the key, for a corrupt value or class names that
 *   do not number `classes`.
 *
 * @example
 * ```ts
 * import { readUsageMetadata } from "./usage_metadata.ts";
 * const usage = readUsageMetadata({ "denozoo.preprocess": '{"size":[32,32],"mode":"torch"}' }, 10, "m");
 * console.log(usage.preprocess?.size, usage.labels); // [ 32, 32 ] undefined
 * ```
 */
export function readUsageMetadata(
  strings: Readonly<Record<string, string>>,
  classes: number,
  file: string,
): ModelUsage {
  const usage: ModelUsage = {};
  if (strings[KEYS.preprocess]) {
    usage.preprocess = parseField(strings, KEYS.preprocess, file, preprocessProblem);
  }
  const labels = recordedLabels(strings, classes, file);
  if (labels !== undefined) usage.labels = labels;
  return usage;
}

/**
 * Reads how to use a model from an ONNX file's `metadata_props` (what `exportOnnx` writes);
 * a file without them (any other exporter's) records nothing.
 *
 * @throws {ZooFormatError} As {@link readUsageMetadata}, and for a key of the zoo's that the
 *   file lists twice.
 *
 * @example
 * ```ts
 * import { readOnnx } from "../formats/onnx.ts";
 * import { onnxUsage } from "./usage_metadata.ts";
 * const path = "testdata/fixtures/nets/tv_basic.onnx"; // written by torch.onnx
 * console.log(onnxUsage(await readOnnx(await Deno.readFile(path), path), 10, path)); // {}
 * ```
 */
export function onnxUsage(model: OnnxModel, classes: number, file: string): ModelUsage {
  const strings: Record<string, string> = {};
  const ours = new Set<string>(Object.values(KEYS));
  for (const [key, value] of model.metadataProps) {
    if (!ours.has(key)) continue;
    if (Object.hasOwn(strings, key)) {
      throw new ZooFormatError(file, `metadata '${key}' is listed twice in metadata_props`);
    }
    strings[key] = value;
  }
  return readUsageMetadata(strings, classes, file);
}
