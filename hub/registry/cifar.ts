/**
 * The CIFAR-10 ResNets of akamaster/pytorch_resnet_cifar10 (ResNet-20/32/44/56, He et al. 2015
 * section 4.2), legacy PyTorch checkpoints named with the start of their SHA-256.
 *
 * @example
 * ```ts
 * import { CIFAR_WEIGHTS } from "./cifar.ts";
 * console.log(CIFAR_WEIGHTS.map((entry) => entry.metrics.top1)); // [ 91.25, 92.49, 92.97, 93.39 ]
 * ```
 *
 * @module
 */

import type { WeightsEntry } from "../registry.ts";

const CIFAR_BASE =
  "https://github.com/akamaster/pytorch_resnet_cifar10/raw/master/pretrained_models/";

/** akamaster rows: [depth, file, README top-1 on the full test set, trainable params, bytes]. */
const CIFAR_ROWS: [number, string, number, number, number][] = [
  [20, "resnet20-12fca82f.th", 91.25, 269_722, 1_099_231],
  [32, "resnet32-d509ac18.th", 92.49, 464_154, 1_890_043],
  [44, "resnet44-014dd654.th", 92.97, 658_586, 2_680_855],
  [56, "resnet56-4bfd9763.th", 93.39, 853_018, 3_471_733],
];

function cifarEntry([depth, file, top1, params, bytes]: (typeof CIFAR_ROWS)[number]): WeightsEntry {
  return {
    id: `cifar_resnet${depth}.cifar10`,
    architecture: `cifar_resnet${depth}`,
    urls: [CIFAR_BASE + file],
    hash: { algorithm: "sha256-prefix", value: file.slice(file.indexOf("-") + 1, -".th".length) },
    sourceFormat: "pytorch-legacy",
    preprocess: "CIFAR10_TORCH",
    labels: "cifar10",
    license: "BSD-2-Clause",
    metrics: { top1, params, fileSizeBytes: bytes, dataset: "CIFAR-10 test set" },
    notes:
      "akamaster/pytorch_resnet_cifar10 (He et al. 2015 sec. 4.2, option-A shortcuts): a dict " +
      "{best_prec1, state_dict} with keys prefixed 'module.'. Params computed by countParams, " +
      "size measured on the upstream file.",
  };
}

/** The akamaster CIFAR-10 checkpoints, shallowest first. */
export const CIFAR_WEIGHTS: readonly WeightsEntry[] = CIFAR_ROWS.map(cifarEntry);
