/**
 * The pretrained-weights registry: one {@link WeightsEntry} per published weights file, with
 * its upstream URL, the checksum exactly as upstream publishes it, the zoo architecture it
 * loads into, its preprocessing and its reported accuracy. Pure data: downloading lives in
 * `cache.ts`, so the registry can be read (by a CLI, by docs) without touching the network.
 *
 * Sources are torchvision's Weights enums, Keras Applications' `WEIGHTS_HASHES`, the ONNX
 * model zoo's Git-LFS pointers and the akamaster CIFAR-10 checkpoints. Values upstream does
 * not publish are absent, never estimated.
 *
 * @example
 * ```ts
 * import { findWeights, REGISTRY } from "./registry.ts";
 * const entry = findWeights("resnet50.tv2_in1k");
 * console.log(entry.urls[0]); // "https://download.pytorch.org/models/resnet50-11ad3fa6.pth"
 * console.log(REGISTRY.filter((e) => e.labels === "cifar10").length); // 4
 * ```
 *
 * @module
 */

import { ZooFormatError } from "../arch/errors.ts";

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

/** One downloadable weights file. */
export interface WeightsEntry {
  /** `<architecture>.<source>_<dataset>`, e.g. `resnet50.tv2_in1k`, `cifar_resnet20.cifar10`. */
  id: string;
  /** Zoo preset (`zoo/spec.ts` PRESETS) the weights load into; for nets matching no preset, the closest one (see {@link WeightsEntry.notes}). */
  architecture: string;
  /** Upstream URLs of the same bytes; the first is canonical, the rest are fallbacks. */
  urls: string[];
  /** Checksum exactly as upstream publishes it. */
  hash: WeightsHash;
  /** Container format of the file. */
  sourceFormat: "pytorch-zip" | "pytorch-legacy" | "onnx" | "keras-h5";
  /** Name of the `zoo/preprocess.ts` preset the weights were trained with. */
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

const IN1K = "ImageNet-1k validation";

const TORCHVISION_BASE = "https://download.pytorch.org/models/";

/** torchvision B.1 table rows: [model, enum suffix, file, acc@1, acc@5, params, _file_size MB]. */
const TORCHVISION_ROWS: [string, 1 | 2, string, number, number, number, number][] = [
  ["resnet18", 1, "resnet18-f37072fd.pth", 69.758, 89.078, 11_689_512, 44.661],
  ["resnet34", 1, "resnet34-b627a593.pth", 73.314, 91.420, 21_797_672, 83.275],
  ["resnet50", 1, "resnet50-0676ba61.pth", 76.130, 92.862, 25_557_032, 97.781],
  ["resnet50", 2, "resnet50-11ad3fa6.pth", 80.858, 95.434, 25_557_032, 97.79],
  ["resnet101", 1, "resnet101-63fe2227.pth", 77.374, 93.546, 44_549_160, 170.511],
  ["resnet101", 2, "resnet101-cd907fc2.pth", 81.886, 95.780, 44_549_160, 170.53],
  ["resnet152", 1, "resnet152-394f9c45.pth", 78.312, 94.046, 60_192_808, 230.434],
  ["resnet152", 2, "resnet152-f82ba261.pth", 82.284, 96.002, 60_192_808, 230.474],
];

/** Pre-0.13 torchvision file names of the same V1 weights, older serialization. */
const TORCHVISION_LEGACY_FILES: Record<string, string> = {
  resnet18: "resnet18-5c106cde.pth",
  resnet34: "resnet34-333f7ec4.pth",
  resnet50: "resnet50-19c8e357.pth",
  resnet101: "resnet101-5d3b4d8f.pth",
  resnet152: "resnet152-b121ed2d.pth",
};

function torchvisionEntry(
  [model, version, file, top1, top5, params, sizeMb]: (typeof TORCHVISION_ROWS)[number],
): WeightsEntry {
  const enumName = `${model.replace("resnet", "ResNet")}_Weights.IMAGENET1K_V${version}`;
  const recipe = version === 1
    ? `Same weights as the pre-0.13 file ${TORCHVISION_LEGACY_FILES[model]} (older serialization).`
    : "New training recipe (pytorch/vision#3995); evaluated with resize 232.";
  return {
    id: `${model}.tv${version === 1 ? "" : "2"}_in1k`,
    architecture: model,
    urls: [TORCHVISION_BASE + file],
    hash: { algorithm: "sha256-prefix", value: file.slice(file.indexOf("-") + 1, -".pth".length) },
    sourceFormat: "pytorch-zip",
    preprocess: version === 1 ? "TORCHVISION_V1" : "TORCHVISION_V2",
    labels: "imagenet",
    license: "NOASSERTION",
    metrics: { top1, top5, params, dataset: IN1K },
    notes: `torchvision ${enumName}; torchvision records _file_size ${sizeMb} MB. ${recipe}`,
  };
}

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

const ONNX_BASE =
  "https://github.com/onnx/models/raw/main/validated/vision/classification/resnet/model/";

/** ONNX model zoo rows (C.1): [file stem, top-1, top-5, sha256, bytes]. */
const ONNX_ROWS: [string, number, number, string, number][] = [
  [
    "resnet18-v1-7",
    69.93,
    89.29,
    "4e8f8653e7a2222b3904cc3fe8e304cd8b339ce1d05fd24688162f86fb6df52c",
    46_820_737,
  ],
  [
    "resnet34-v1-7",
    73.73,
    91.40,
    "883a41b2e30ddc2e422c108b091b5e70b92d37dc5c345a2c563dcae27971e2cc",
    87_302_588,
  ],
  [
    "resnet50-v1-7",
    74.93,
    92.38,
    "af16a04a6ec48ac494065d4439fe9dea590d337b9ca6dc328160ccf04a217b9c",
    102_583_340,
  ],
  [
    "resnet101-v1-7",
    76.48,
    93.20,
    "760702f6ec0138f71ebac66f4e95d1c72dc9267a8544f4d4667a53075fd0497c",
    178_914_043,
  ],
  [
    "resnet152-v1-7",
    77.11,
    93.61,
    "b0ec92437bf8c9d0739bf9bafdea9638e13f9e3c1e2fb766ad546cc182fd3f6d",
    241_816_206,
  ],
  [
    "resnet50-v1-12",
    74.97,
    92.33,
    "3f03fdef724b22947eed826f1eef1dc5c34151bb4c37d634f1db89dfa2dd1526",
    102_576_593,
  ],
  [
    "resnet18-v2-7",
    69.70,
    89.49,
    "3b4d048057854022232aa20bf68262e31718ab7119a17f920b8a2dc1433f824b",
    46_806_737,
  ],
  [
    "resnet34-v2-7",
    73.36,
    91.43,
    "3d3815e25f4b1ea967e2a526a3b27ef2a03af1725bdc199a63a271c26862d914",
    87_288_587,
  ],
  [
    "resnet50-v2-7",
    75.81,
    92.82,
    "79102261eb6e5fd7af5d27f41316293e388c5cb691e5d25bfb035c4f64fefe31",
    102_442_452,
  ],
  [
    "resnet101-v2-7",
    77.42,
    93.61,
    "3a0a819ea0953fb4700b0d98e43540aeee253e5b4c503c552b0c7979fc67767d",
    178_682_301,
  ],
  [
    "resnet152-v2-7",
    78.20,
    94.21,
    "40fb3f6dd313ba786a2c8077a0ef7d7b4afeda5d037365400d3a7fbc2b1bee64",
    241_503_848,
  ],
];

const GLUON_V1_BASIC_NOTE =
  "MXNet Gluon ResNetV1 (basic blocks: stride on the 3x3 conv, 1x1 no-bias projection + BN), " +
  "the torchvision block layout; Gluon's conv biases are not recorded, so no param count.";
const GLUON_V1_BOTTLENECK_NOTE =
  "MXNet Gluon ResNetV1: stride on the first 1x1 conv as in Keras v1 (closest preset), but the " +
  "projection conv has no bias and Gluon layer names; matches no preset exactly, so no param count.";
const GLUON_V2_NOTE =
  "MXNet Gluon ResNetV2: pre-activation like the Keras-V2-style preset (closest), but with a " +
  "non-affine input BatchNorm, BN+ReLU after the stem, the stride on block 0 of each stage and " +
  "no conv biases; matches no preset exactly, so no param count.";

function onnxEntry([stem, top1, top5, sha256, bytes]: (typeof ONNX_ROWS)[number]): WeightsEntry {
  const [model, version, opset] = stem.split("-");
  const depth = Number(model.slice("resnet".length));
  const architecture = version === "v2" ? `${model}v2` : depth >= 50 ? `keras_${model}` : model;
  const gluonNote = version === "v2"
    ? GLUON_V2_NOTE
    : depth >= 50
    ? GLUON_V1_BOTTLENECK_NOTE
    : GLUON_V1_BASIC_NOTE;
  const opsetNote = opset === "12" ? " The fp32 opset-12 file (ONNX 1.7)." : "";
  return {
    id: `${model}_${version}.onnx${opset === "7" ? "" : `_opset${opset}`}_in1k`,
    architecture,
    urls: [`${ONNX_BASE}${stem}.onnx`],
    hash: { algorithm: "sha256", value: sha256 },
    sourceFormat: "onnx",
    preprocess: "TORCHVISION_V1",
    labels: "imagenet",
    license: "NOASSERTION",
    metrics: { top1, top5, fileSizeBytes: bytes, dataset: IN1K },
    notes:
      `ONNX model zoo ${stem}.onnx (opset ${opset}); sha256 and size from its Git-LFS pointer. ` +
      `${gluonNote}${opsetNote} Input 'data' NCHW RGB; outputs logits.`,
  };
}

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

/**
 * Every known weights file: torchvision V1/V2, Keras Applications (with `_notop`), the ONNX
 * model zoo ResNets and the akamaster CIFAR-10 checkpoints.
 *
 * @example
 * ```ts
 * import { REGISTRY } from "./registry.ts";
 * for (const entry of REGISTRY) console.log(entry.id, entry.metrics.top1 ?? "-");
 * ```
 */
export const REGISTRY: readonly WeightsEntry[] = Object.freeze([
  ...TORCHVISION_ROWS.map(torchvisionEntry),
  ...KERAS_ROWS.flatMap(kerasEntries),
  ...ONNX_ROWS.map(onnxEntry),
  ...CIFAR_ROWS.map(cifarEntry),
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
 * Looks up a weights entry by id; an unknown id fails with the closest known ids.
 *
 * @example
 * ```ts
 * import { findWeights } from "./registry.ts";
 * console.log(findWeights("cifar_resnet20.cifar10").metrics.top1); // 91.25
 * findWeights("resnet50.tv3_in1k"); // Error: ... did you mean resnet50.tv_in1k, resnet50.tv2_in1k, ...
 * ```
 */
export function findWeights(id: string): WeightsEntry {
  const entry = REGISTRY.find((e) => e.id === id);
  if (entry) return entry;
  const wanted = id.toLowerCase();
  const architecture = wanted.split(".")[0];
  const close = REGISTRY
    .map((e) => ({
      id: e.id,
      // Same architecture first, then by edit distance.
      score: editDistance(wanted, e.id) - (e.id.split(".")[0] === architecture ? 100 : 0),
    }))
    .sort((a, b) => a.score - b.score)
    .slice(0, 5)
    .map((e) => e.id);
  throw new Error(
    `unknown weights '${id}'; did you mean ${close.join(", ")}? ` +
      `(${REGISTRY.length} ids in zoo/registry.ts REGISTRY)`,
  );
}

const HASH_ALGORITHMS: readonly WeightsHash["algorithm"][] = ["sha256", "sha256-prefix", "md5"];
const SOURCE_FORMATS: readonly WeightsEntry["sourceFormat"][] = [
  "pytorch-zip",
  "pytorch-legacy",
  "onnx",
  "keras-h5",
];
const PREPROCESS_PRESETS: readonly WeightsEntry["preprocess"][] = [
  "TORCHVISION_V1",
  "TORCHVISION_V2",
  "KERAS_CAFFE",
  "KERAS_TF",
  "CIFAR10_TORCH",
];
const LABEL_SETS: readonly WeightsEntry["labels"][] = ["imagenet", "cifar10"];

/** Hex digits per algorithm; a `sha256-prefix` is at least the 8 digits torch.hub file names carry. */
const HASH_DIGITS: Readonly<Record<WeightsHash["algorithm"], RegExp>> = {
  "sha256": /^[0-9a-f]{64}$/,
  "sha256-prefix": /^[0-9a-f]{8,64}$/,
  "md5": /^[0-9a-f]{32}$/,
};

/** Checks the fields of one JSON object against a schema of field checks; unknown keys fail. */
function checkFields(
  value: unknown,
  where: string,
  required: readonly string[],
  optional: readonly string[],
  fail: (message: string) => never,
): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    fail(`${where} is not an object`);
  }
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!required.includes(key) && !optional.includes(key)) {
      fail(`${where} has unknown field '${key.slice(0, 100)}'`);
    }
  }
  for (const key of required) {
    if (!Object.hasOwn(record, key)) fail(`${where} lacks field '${key}'`);
  }
  return record;
}

/**
 * Parses and validates a registry in JSON (an array of {@link WeightsEntry} objects, as
 * `JSON.stringify(REGISTRY)` writes it), checking every field's type and value: non-empty
 * strings, `https://` URLs, hash digits of the algorithm's length, the enumerations' values,
 * accuracies in [0, 100], sizes as non-negative integers, unique ids. Unknown fields are
 * refused, so a misspelt optional field cannot pass unnoticed.
 *
 * @param text The JSON text.
 * @param file The file name, used in error messages.
 * @returns The entries, in file order.
 * @throws {ZooFormatError} For invalid JSON or the first field that is wrong, naming the entry.
 *
 * @example
 * ```ts
 * import { REGISTRY, validateRegistryJson } from "./registry.ts";
 * const entries = validateRegistryJson(JSON.stringify(REGISTRY), "registry.json");
 * console.log(entries.length === REGISTRY.length); // true
 * ```
 */
export function validateRegistryJson(text: string, file: string): WeightsEntry[] {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new ZooFormatError(file, `not valid JSON: ${(error as Error).message}`);
  }
  if (!Array.isArray(document)) throw new ZooFormatError(file, "registry is not a JSON array");
  const ids = new Set<string>();
  return document.map((item: unknown, index): WeightsEntry => {
    let where = `entry ${index}`;
    const fail = (message: string): never => {
      throw new ZooFormatError(file, message);
    };
    const entry = checkFields(
      item,
      where,
      [
        "id",
        "architecture",
        "urls",
        "hash",
        "sourceFormat",
        "preprocess",
        "labels",
        "license",
        "metrics",
      ],
      ["includeTop", "notes"],
      fail,
    );
    const text = (key: string, value: unknown): string => {
      if (typeof value !== "string" || value.length === 0) {
        fail(`${where}: '${key}' is not a non-empty string`);
      }
      return value as string;
    };
    const oneOf = <T extends string>(key: string, allowed: readonly T[]): T => {
      const value = entry[key];
      if (!allowed.includes(value as T)) {
        fail(`${where}: '${key}' is not one of ${allowed.join(", ")}`);
      }
      return value as T;
    };
    const id = text("id", entry.id);
    where = `entry ${index} ('${id.slice(0, 100)}')`;
    if (ids.has(id)) fail(`${where}: id appears twice`);
    ids.add(id);

    const urls = entry.urls;
    if (!Array.isArray(urls) || urls.length === 0) {
      fail(`${where}: 'urls' is not a non-empty array`);
    }
    for (const url of urls as unknown[]) {
      if (typeof url !== "string" || !url.startsWith("https://")) {
        fail(`${where}: 'urls' holds something other than an https:// URL`);
      }
    }
    const hash = checkFields(entry.hash, `${where}: 'hash'`, ["algorithm", "value"], [], fail);
    if (!HASH_ALGORITHMS.includes(hash.algorithm as WeightsHash["algorithm"])) {
      fail(`${where}: 'hash.algorithm' is not one of ${HASH_ALGORITHMS.join(", ")}`);
    }
    const algorithm = hash.algorithm as WeightsHash["algorithm"];
    if (typeof hash.value !== "string" || !HASH_DIGITS[algorithm].test(hash.value)) {
      fail(`${where}: 'hash.value' is not lower-case hex of ${algorithm}'s length`);
    }

    const metrics = checkFields(
      entry.metrics,
      `${where}: 'metrics'`,
      ["dataset"],
      ["top1", "top5", "params", "fileSizeBytes"],
      fail,
    );
    text("metrics.dataset", metrics.dataset);
    for (const key of ["top1", "top5"]) {
      const value = metrics[key];
      if (value !== undefined && !(typeof value === "number" && value >= 0 && value <= 100)) {
        fail(`${where}: 'metrics.${key}' is not a percentage`);
      }
    }
    for (const key of ["params", "fileSizeBytes"]) {
      const value = metrics[key];
      if (value !== undefined && !(Number.isSafeInteger(value) && (value as number) >= 0)) {
        fail(`${where}: 'metrics.${key}' is not a non-negative integer`);
      }
    }
    if (entry.includeTop !== undefined && typeof entry.includeTop !== "boolean") {
      fail(`${where}: 'includeTop' is not a boolean`);
    }
    if (entry.notes !== undefined && typeof entry.notes !== "string") {
      fail(`${where}: 'notes' is not a string`);
    }
    return {
      id,
      architecture: text("architecture", entry.architecture),
      urls: [...urls as string[]],
      hash: { algorithm, value: hash.value as string },
      sourceFormat: oneOf("sourceFormat", SOURCE_FORMATS),
      preprocess: oneOf("preprocess", PREPROCESS_PRESETS),
      labels: oneOf("labels", LABEL_SETS),
      license: text("license", entry.license),
      // Every key was checked above and unknown ones refused, so a copy holds nothing else.
      metrics: { ...metrics } as unknown as WeightsMetrics,
      ...(entry.includeTop === undefined ? {} : { includeTop: entry.includeTop as boolean }),
      ...(entry.notes === undefined ? {} : { notes: entry.notes as string }),
    };
  });
}
