/**
 * The pretrained-weights registry: one {@link WeightsEntry} per published weights file, with
 * its upstream URL, the checksum exactly as upstream publishes it, the zoo architecture it
 * loads into, its preprocessing and its reported accuracy, and {@link findWeights} to look one
 * up. Pure data: downloading lives in `cache.ts`, so the registry can be read (by a CLI, by
 * docs) without touching the network.
 *
 * Each source's entries live in `registry/`: torchvision's Weights enums, timm's pretrained
 * configs, Keras Applications' `WEIGHTS_HASHES`, the ONNX model zoo's Git-LFS pointers and the
 * akamaster CIFAR-10 checkpoints. Values upstream does not publish are absent, never estimated. A registry in JSON
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

import type { LabelSet } from "../arch/labels.ts";
import { closestNames } from "../arch/suggest.ts";
import { CIFAR_WEIGHTS } from "./registry/cifar.ts";
import { KERAS_WEIGHTS } from "./registry/keras.ts";
import { ONNX_ZOO_WEIGHTS } from "./registry/onnx_zoo.ts";
import { TORCHVISION_WEIGHTS } from "./registry/torchvision.ts";
import { TIMM_WEIGHTS } from "./registry/timm.ts";

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
  /** Container format of the file; `pytorch` is a `torch.save` file whose container (zip or legacy) upstream does not record. */
  sourceFormat: "pytorch-zip" | "pytorch-legacy" | "pytorch" | "onnx" | "keras-h5";
  /** Name of the `arch/preprocess.ts` preset the weights were trained with. */
  preprocess:
    | "TORCHVISION_V1"
    | "TORCHVISION_V2"
    | "KERAS_CAFFE"
    | "KERAS_TF"
    | "CIFAR10_TORCH"
    | "TIMM_CROP_875"
    | "TIMM_CROP_95"
    | "TIMM_256_CROP_95";
  /** Class-label set of the classifier. */
  labels: LabelSet;
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
 * Every known weights file: torchvision V1/V2 (ResNet, ResNeXt, Wide ResNet), timm's ResNet-D,
 * SE and ECA nets, Keras Applications (with `_notop`), the ONNX model zoo ResNets and the
 * akamaster CIFAR-10 checkpoints.
 *
 * @example
 * ```ts
 * import { REGISTRY } from "./registry.ts";
 * console.log(REGISTRY.length, REGISTRY[0].id, REGISTRY[0].metrics.top1); // 54 resnet18.tv_in1k 69.758
 * ```
 */
export const REGISTRY: readonly WeightsEntry[] = Object.freeze([
  ...TORCHVISION_WEIGHTS,
  ...TIMM_WEIGHTS,
  ...KERAS_WEIGHTS,
  ...ONNX_ZOO_WEIGHTS,
  ...CIFAR_WEIGHTS,
]);

/**
 * Each architecture's default weights, as torchvision's `Weights.DEFAULT` names one member of
 * each enum: what a bare architecture name (`resnet50`) means where weights are wanted. The
 * rule: torchvision's best (V2 where it exists), else the architecture's own framework's
 * classifier (Keras Applications), else the only published file (the ONNX model zoo's
 * pre-activation nets, the akamaster CIFAR-10 checkpoints). A test checks that every
 * architecture in {@link REGISTRY} has exactly one, of that architecture, with its classifier.
 *
 * @example
 * ```ts
 * import { DEFAULT_WEIGHTS } from "./registry.ts";
 * console.log(DEFAULT_WEIGHTS.resnet50, DEFAULT_WEIGHTS.cifar_resnet20); // resnet50.tv2_in1k cifar_resnet20.cifar10
 * ```
 */
export const DEFAULT_WEIGHTS: Readonly<Record<string, string>> = Object.freeze({
  resnet18: "resnet18.tv_in1k",
  resnet34: "resnet34.tv_in1k",
  resnet50: "resnet50.tv2_in1k",
  resnet101: "resnet101.tv2_in1k",
  resnet152: "resnet152.tv2_in1k",
  resnext50_32x4d: "resnext50_32x4d.tv2_in1k",
  resnext101_32x8d: "resnext101_32x8d.tv2_in1k",
  resnext101_64x4d: "resnext101_64x4d.tv_in1k",
  wide_resnet50_2: "wide_resnet50_2.tv2_in1k",
  wide_resnet101_2: "wide_resnet101_2.tv2_in1k",
  // timm's default: the first pretrained tag its default_cfgs list for the model.
  resnet18d: "resnet18d.ra2_in1k",
  resnet34d: "resnet34d.ra2_in1k",
  resnet26d: "resnet26d.bt_in1k",
  resnet50d: "resnet50d.ra2_in1k",
  resnet101d: "resnet101d.ra2_in1k",
  seresnet50: "seresnet50.a1_in1k",
  ecaresnet50d: "ecaresnet50d.miil_in1k",
  seresnext26d_32x4d: "seresnext26d_32x4d.bt_in1k",
  keras_resnet50: "resnet50.keras_in1k",
  keras_resnet101: "resnet101.keras_in1k",
  keras_resnet152: "resnet152.keras_in1k",
  resnet50v2: "resnet50v2.keras_in1k",
  resnet101v2: "resnet101v2.keras_in1k",
  resnet152v2: "resnet152v2.keras_in1k",
  resnet18v2: "resnet18_v2.onnx_in1k",
  resnet34v2: "resnet34_v2.onnx_in1k",
  cifar_resnet20: "cifar_resnet20.cifar10",
  cifar_resnet32: "cifar_resnet32.cifar10",
  cifar_resnet44: "cifar_resnet44.cifar10",
  cifar_resnet56: "cifar_resnet56.cifar10",
});

/**
 * The default weights of an architecture (see {@link DEFAULT_WEIGHTS}), or undefined for an
 * architecture with no published weights.
 *
 * @example
 * ```ts
 * import { defaultWeights } from "./registry.ts";
 * console.log(defaultWeights("resnet50")?.id, defaultWeights("cifar_resnet110")); // resnet50.tv2_in1k undefined
 * ```
 */
export function defaultWeights(architecture: string): WeightsEntry | undefined {
  const id = Object.hasOwn(DEFAULT_WEIGHTS, architecture) ? DEFAULT_WEIGHTS[architecture] : "";
  return REGISTRY.find((e) => e.id === id);
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
  const architecture = id.toLowerCase().split(".")[0];
  // Same architecture first, then by edit distance.
  const close = [
    ...registry.filter((e) => e.id.split(".")[0] === architecture).map((e) => e.id),
    ...closestNames(id, registry.map((e) => e.id), { limit: 5, maxDistance: Infinity }),
  ];
  throw new Error(
    `unknown weights '${id}'; did you mean ${[...new Set(close)].slice(0, 5).join(", ")}? ` +
      `(${registry.length} ids in hub/registry.ts REGISTRY)`,
  );
}
