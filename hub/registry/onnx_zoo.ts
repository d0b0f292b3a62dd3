/**
 * The ONNX model zoo's ImageNet ResNets (MXNet Gluon exports, V1 and V2, opset 7, and one
 * opset-12 file), with the SHA-256 and size of their Git-LFS pointers.
 *
 * @example
 * ```ts
 * import { ONNX_ZOO_WEIGHTS } from "./onnx_zoo.ts";
 * console.log(ONNX_ZOO_WEIGHTS.length, ONNX_ZOO_WEIGHTS[0].id); // 11 resnet18_v1.onnx_in1k
 * ```
 *
 * @module
 */

import type { WeightsEntry } from "../registry.ts";

const IN1K = "ImageNet-1k validation";

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

/** The ONNX model zoo's ResNet files, in the order of its table. */
export const ONNX_ZOO_WEIGHTS: readonly WeightsEntry[] = ONNX_ROWS.map(onnxEntry);
