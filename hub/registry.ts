/**
 * The pretrained-weights registry: one {@link WeightsEntry} per published weights file, with
 * its upstream URL, the checksum exactly as upstream publishes it, the zoo architecture it
 * loads into, its preprocessing and its reported accuracy, and {@link findWeights} to look one
 * up. Pure data: downloading lives in `cache.ts`, so the registry can be read (by a CLI, by
 * docs) without touching the network.
 *
 * Each source's entries live in `registry/`: torchvision's Weights enums, Keras Applications'
 * `WEIGHTS_HASHES`, the ONNX model zoo's Git-LFS pointers and the akamaster CIFAR-10
 * checkpoints. Values upstream does not publish are absent, never estimated. A registry in JSON
 * is checked by `validateRegistryJson` (`registry_json.ts`).
 *
 * @example
 * ```ts
 * import { findWeights, REGISTRY } from "./registry.ts";
 * const entry = findWeights("resnet50.tv2_in1k");
 * console.log(entry.urls[0]); // https://download.pytorch.org/models/resnet50-11ad3fa6.pth
 * console.log(REGISTRY.filter((e) => e.labels === "cifar10").length); // 4
 * ```
 *
 * @module
 */

import { CIFAR_WEIGHTS } from "./registry/cifar.ts";
import { KERAS_WEIGHTS } from "./registry/keras.ts";
import { ONNX_ZOO_WEIGHTS } from "./registry/onnx_zoo.ts";
import { TORCHVISION_WEIGHTS } from "./registry/torchvision.ts";

/** How upstream publishes a file's checksum. */
export interface WeightsHash {
  /**
   * - `sha256`: the full hex SHA-256 (ONNX model zoo LFS pointers);
   * - `sha256-prefix`: the leading hex digits of the SHA-256, as embedded in torch.hub file
   *   names (`resnet50-11ad3fa6.pth`);
   * - `md5`: hex MD5 (Keras `WEIGHTS_HASHES`).
   */
  algorithm: "sha256" | "sha256-prefix" | "md5";
  /** Lower-case hex digits. */
  value: string;
}

/** Accuracy and size as upstream reports them. */
export interface WeightsMetrics {
  /** Top-1 accuracy in percent on {@link WeightsMetrics.dataset}. */
  top1?: number;
  /** Top-5 accuracy in percent. */
  top5?: number;
  /**
   * Parameter count as the source framework reports it: PyTorch's trainable parameters, Keras'
   * `count_params()` (which includes BN moving statistics). Equals `countParams` of the
   * entry's architecture. Absent where the architecture matches no preset.
   */
  params?: number;
  /** Exact size of the file in bytes, where upstream records it. */
  fileSizeBytes?: number;
  /** What the accuracy was measured on. */
  dataset: string;
}

/**
 * One downloadable weights file.
 *
 * @example
 * ```ts
 * import { findWeights, type WeightsEntry } from "./registry.ts";
 * const entry: WeightsEntry = findWeights("cifar_resnet20.cifar10");
 * console.log(entry.architecture, entry.labels, entry.sourceFormat); // cifar_resnet20 cifar10 pytorch-legacy
 * ```
 */
export interface WeightsEntry {
  /** `<architecture>.<source>_<dataset>`, e.g. `resnet50.tv2_in1k`, `cifar_resnet20.cifar10`. */
  id: string;
  /** Zoo preset (`arch/presets.ts` PRESETS) the weights load into; for nets matching no preset, the closest one (see {@link WeightsEntry.notes}). */
  architecture: string;
  /** Upstream URLs of the same bytes; the first is canonical, the rest are fallbacks. */
  urls: string[];
  /** Checksum exactly as upstream publishes it. */
  hash: WeightsHash;
  /** Container format of the file. */
  sourceFormat: "pytorch-zip" | "pytorch-legacy" | "onnx" | "keras-h5";
  /** Name of the `arch/preprocess.ts` preset the weights were trained with. */
  preprocess: "TORCHVISION_V1" | "TORCHVISION_V2" | "KERAS_CAFFE" | "KERAS_TF" | "CIFAR10_TORCH";
  /** Class-label set of the classifier. */
  labels: "imagenet" | "cifar10";
  /** SPDX license id of the weights; `NOASSERTION` where this project has not recorded one. */
  license: string;
  /** Reported accuracy and sizes. */
  metrics: WeightsMetrics;
  /** False for feature-extractor files without the classifier (Keras `_notop`); default true. */
  includeTop?: boolean;
  /** Provenance and caveats. */
  notes?: string;
}

/**
 * Every known weights file: torchvision V1/V2, Keras Applications (with `_notop`), the ONNX
 * model zoo ResNets and the akamaster CIFAR-10 checkpoints.
 *
 * @example
 * ```ts
 * import { REGISTRY } from "./registry.ts";
 * console.log(REGISTRY.length, REGISTRY[0].id, REGISTRY[0].metrics.top1); // 35 resnet18.tv_in1k 69.758
 * ```
 */
export const REGISTRY: readonly WeightsEntry[] = Object.freeze([
  ...TORCHVISION_WEIGHTS,
  ...KERAS_WEIGHTS,
  ...ONNX_ZOO_WEIGHTS,
  ...CIFAR_WEIGHTS,
]);

/** Levenshtein distance, for suggesting ids close to a mistyped one. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j] + 1, current[j - 1] + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length];
}

/**
 * The known names closest to a mistyped one: those sharing its part before the first `.`
 * first, then by edit distance; at most `count`.
 *
 * @example
 * ```ts
 * console.log(closestNames("resnet05", ["resnet50", "resnet18", "cifar_resnet20"], 2)); // [ "resnet50", "resnet18" ]
 * ```
 */
export function closestNames(wanted: string, names: readonly string[], count = 5): string[] {
  const lower = wanted.toLowerCase();
  const prefix = lower.split(".")[0];
  return names
    .map((name) => ({
      name,
      score: editDistance(lower, name) - (name.split(".")[0] === prefix ? 100 : 0),
    }))
    .sort((a, b) => a.score - b.score)
    .slice(0, count)
    .map((e) => e.name);
}

/**
 * Looks up a weights entry by id; an unknown id fails with the closest known ids.
 *
 * @param registry Where to look (default: {@link REGISTRY}).
 *
 * @example
 * ```ts
 * import { findWeights } from "./registry.ts";
 * console.log(findWeights("cifar_resnet20.cifar10").metrics.top1); // 91.25
 * try {
 *   findWeights("resnet50.tv3_in1k");
 * } catch (error) {
 *   console.log((error as Error).message);
 *   // unknown weights 'resnet50.tv3_in1k'; did you mean resnet50.tv_in1k, resnet50.tv2_in1k, …
 * }
 * ```
 */
export function findWeights(
  id: string,
  registry: readonly WeightsEntry[] = REGISTRY,
): WeightsEntry {
  const entry = registry.find((e) => e.id === id);
  if (entry) return entry;
  const close = closestNames(id, registry.map((e) => e.id));
  throw new Error(
    `unknown weights '${id}'; did you mean ${close.join(", ")}? ` +
      `(${registry.length} ids in hub/registry.ts REGISTRY)`,
  );
}
