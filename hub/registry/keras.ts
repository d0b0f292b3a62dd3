/**
 * Keras Applications' ImageNet ResNet weights (ResNet50/101/152 and their V2), each with and
 * without the classifier (`_notop`), checked by the MD5 sums of Keras' `WEIGHTS_HASHES`.
 *
 * @example
 * ```ts
 * import { KERAS_WEIGHTS } from "./keras.ts";
 * console.log(KERAS_WEIGHTS.length, KERAS_WEIGHTS[1].id); // 12 resnet50.keras_in1k_notop
 * ```
 *
 * @module
 */

import type { WeightsEntry } from "../registry.ts";

const IN1K = "ImageNet-1k validation";

const KERAS_BASE = "https://storage.googleapis.com/tensorflow/keras-applications/resnet/";
const KERAS_RELEASES = "https://github.com/keras-team/keras-applications/releases/download/resnet/";

/**
 * Keras rows: [WEIGHTS_HASHES key, preset, top md5, notop md5, top-1, top-5, params top,
 * params notop]. Top params are the keras.io table; notop params are `countParams` of the
 * preset without the head (Keras publishes none).
 */
const KERAS_ROWS: [string, string, string, string, number, number, number, number][] = [
  [
    "resnet50",
    "keras_resnet50",
    "2cb95161c43110f7111970584f804107",
    "4d473c1dd8becc155b73f8504c6f6626",
    74.9,
    92.1,
    25_636_712,
    23_587_712,
  ],
  [
    "resnet101",
    "keras_resnet101",
    "f1aeb4b969a6efcfb50fad2f0c20cfc5",
    "88cf7a10940856eca736dc7b7e228a21",
    76.4,
    92.8,
    44_707_176,
    42_658_176,
  ],
  [
    "resnet152",
    "keras_resnet152",
    "100835be76be38e30d865e96f2aaae62",
    "ee4c566cf9a93f14d82f913c2dc6dd0c",
    76.6,
    93.1,
    60_419_944,
    58_370_944,
  ],
  [
    "resnet50v2",
    "resnet50v2",
    "3ef43a0b657b3be2300d5770ece849e0",
    "fac2f116257151a9d068a22e544a4917",
    76.0,
    93.0,
    25_613_800,
    23_564_800,
  ],
  [
    "resnet101v2",
    "resnet101v2",
    "6343647c601c52e1368623803854d971",
    "c0ed64b8031c3730f411d2eb4eea35b5",
    77.2,
    93.8,
    44_675_560,
    42_626_560,
  ],
  [
    "resnet152v2",
    "resnet152v2",
    "a49b44d1979771252814e80f8ec446f9",
    "ed17cf2e0169df9d443503ef94b23b33",
    78.0,
    94.2,
    60_380_648,
    58_331_648,
  ],
];

function kerasEntries(
  [key, architecture, topMd5, notopMd5, top1, top5, params, notopParams]:
    (typeof KERAS_ROWS)[number],
): WeightsEntry[] {
  const common = {
    architecture,
    sourceFormat: "keras-h5",
    preprocess: architecture.endsWith("v2") ? "KERAS_TF" : "KERAS_CAFFE",
    labels: "imagenet",
    license: "NOASSERTION",
  } as const;
  const files = (suffix: string): string[] => {
    const file = `${key}_weights_tf_dim_ordering_tf_kernels${suffix}.h5`;
    return [KERAS_BASE + file, KERAS_RELEASES + file];
  };
  return [
    {
      ...common,
      id: `${key}.keras_in1k`,
      urls: files(""),
      hash: { algorithm: "md5", value: topMd5 },
      metrics: { top1, top5, params, dataset: IN1K },
      notes:
        "Keras Applications WEIGHTS_HASHES; accuracy and params from the keras.io table (via a third-party copy).",
    },
    {
      ...common,
      id: `${key}.keras_in1k_notop`,
      urls: files("_notop"),
      hash: { algorithm: "md5", value: notopMd5 },
      metrics: { params: notopParams, dataset: IN1K },
      includeTop: false,
      notes:
        "Feature extractor without the `predictions` layer; params computed by countParams (Keras publishes none).",
    },
  ];
}

/** Keras Applications' ResNet weights, each file with the classifier followed by its `_notop`. */
export const KERAS_WEIGHTS: readonly WeightsEntry[] = KERAS_ROWS.flatMap(kerasEntries);
