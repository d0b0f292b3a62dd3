/**
 * torchvision's ImageNet ResNet, ResNeXt and Wide ResNet weights: the `IMAGENET1K_V1` and
 * `IMAGENET1K_V2` members of its Weights enums (table B.1, and `torchvision/models/resnet.py`
 * for ResNeXt and Wide ResNet), whose torch.hub file names carry the start of their SHA-256.
 *
 * @example
 * ```ts
 * import { TORCHVISION_WEIGHTS } from "./torchvision.ts";
 * console.log(TORCHVISION_WEIGHTS.length, TORCHVISION_WEIGHTS[3].id); // 17 resnet50.tv2_in1k
 * ```
 *
 * @module
 */

import type { WeightsEntry } from "../registry.ts";

const IN1K = "ImageNet-1k validation";

const TORCHVISION_BASE = "https://download.pytorch.org/models/";

/**
 * Rows of torchvision's Weights enums (`torchvision/models/resnet.py`): [model, enum class,
 * member version, file, acc@1, acc@5, num_params, _file_size MB, the transforms' resize_size].
 * ResNeXt-101 64×4d has only V1 weights, trained with the new recipe and evaluated at 232.
 */
const TORCHVISION_ROWS: [string, string, 1 | 2, string, number, number, number, number, number][] =
  [
    ["resnet18", "ResNet18", 1, "resnet18-f37072fd.pth", 69.758, 89.078, 11_689_512, 44.661, 256],
    ["resnet34", "ResNet34", 1, "resnet34-b627a593.pth", 73.314, 91.420, 21_797_672, 83.275, 256],
    ["resnet50", "ResNet50", 1, "resnet50-0676ba61.pth", 76.130, 92.862, 25_557_032, 97.781, 256],
    ["resnet50", "ResNet50", 2, "resnet50-11ad3fa6.pth", 80.858, 95.434, 25_557_032, 97.79, 232],
    [
      "resnet101",
      "ResNet101",
      1,
      "resnet101-63fe2227.pth",
      77.374,
      93.546,
      44_549_160,
      170.511,
      256,
    ],
    [
      "resnet101",
      "ResNet101",
      2,
      "resnet101-cd907fc2.pth",
      81.886,
      95.780,
      44_549_160,
      170.53,
      232,
    ],
    [
      "resnet152",
      "ResNet152",
      1,
      "resnet152-394f9c45.pth",
      78.312,
      94.046,
      60_192_808,
      230.434,
      256,
    ],
    [
      "resnet152",
      "ResNet152",
      2,
      "resnet152-f82ba261.pth",
      82.284,
      96.002,
      60_192_808,
      230.474,
      232,
    ],
    [
      "resnext50_32x4d",
      "ResNeXt50_32X4D",
      1,
      "resnext50_32x4d-7cdf4587.pth",
      77.618,
      93.698,
      25_028_904,
      95.789,
      256,
    ],
    [
      "resnext50_32x4d",
      "ResNeXt50_32X4D",
      2,
      "resnext50_32x4d-1a0047aa.pth",
      81.198,
      95.340,
      25_028_904,
      95.833,
      232,
    ],
    [
      "resnext101_32x8d",
      "ResNeXt101_32X8D",
      1,
      "resnext101_32x8d-8ba56ff5.pth",
      79.312,
      94.526,
      88_791_336,
      339.586,
      256,
    ],
    [
      "resnext101_32x8d",
      "ResNeXt101_32X8D",
      2,
      "resnext101_32x8d-110c445d.pth",
      82.834,
      96.228,
      88_791_336,
      339.673,
      232,
    ],
    [
      "resnext101_64x4d",
      "ResNeXt101_64X4D",
      1,
      "resnext101_64x4d-173b62eb.pth",
      83.246,
      96.454,
      83_455_272,
      319.318,
      232,
    ],
    [
      "wide_resnet50_2",
      "Wide_ResNet50_2",
      1,
      "wide_resnet50_2-95faca4d.pth",
      78.468,
      94.086,
      68_883_240,
      131.82,
      256,
    ],
    [
      "wide_resnet50_2",
      "Wide_ResNet50_2",
      2,
      "wide_resnet50_2-9ba9bcbe.pth",
      81.602,
      95.758,
      68_883_240,
      263.124,
      232,
    ],
    [
      "wide_resnet101_2",
      "Wide_ResNet101_2",
      1,
      "wide_resnet101_2-32ee1156.pth",
      78.848,
      94.284,
      126_886_696,
      242.896,
      256,
    ],
    [
      "wide_resnet101_2",
      "Wide_ResNet101_2",
      2,
      "wide_resnet101_2-d733dc28.pth",
      82.510,
      96.020,
      126_886_696,
      484.747,
      232,
    ],
  ];

/**
 * Pre-0.13 torchvision file names of the same V1 ResNet weights, older serialization (the
 * ResNeXt and Wide V1 files kept their names).
 */
const TORCHVISION_LEGACY_FILES: Record<string, string> = {
  resnet18: "resnet18-5c106cde.pth",
  resnet34: "resnet34-333f7ec4.pth",
  resnet50: "resnet50-19c8e357.pth",
  resnet101: "resnet101-5d3b4d8f.pth",
  resnet152: "resnet152-b121ed2d.pth",
};

function torchvisionEntry(
  [model, enumClass, version, file, top1, top5, params, sizeMb, resize]:
    (typeof TORCHVISION_ROWS)[number],
): WeightsEntry {
  const enumName = `${enumClass}_Weights.IMAGENET1K_V${version}`;
  const legacy = TORCHVISION_LEGACY_FILES[model];
  const recipe = version === 2
    ? "New training recipe (pytorch/vision#3995); evaluated with resize 232."
    : resize === 232
    ? "Trained from scratch with the new recipe (pytorch/vision#5935); evaluated with resize 232."
    : legacy
    ? `Same weights as the pre-0.13 file ${legacy} (older serialization).`
    : "The original recipe's weights, under the file name torchvision has used since before 0.13.";
  return {
    id: `${model}.tv${version === 1 ? "" : "2"}_in1k`,
    architecture: model,
    urls: [TORCHVISION_BASE + file],
    hash: {
      algorithm: "sha256-prefix",
      value: file.slice(file.lastIndexOf("-") + 1, -".pth".length),
    },
    sourceFormat: "pytorch-zip",
    preprocess: resize === 232 ? "TORCHVISION_V2" : "TORCHVISION_V1",
    labels: "imagenet",
    license: "NOASSERTION",
    metrics: { top1, top5, params, dataset: IN1K },
    notes: `torchvision ${enumName}; torchvision records _file_size ${sizeMb} MB. ${recipe}`,
  };
}

/** torchvision's ResNet, ResNeXt and Wide ResNet weights, V1 and V2, in the order of its enums. */
export const TORCHVISION_WEIGHTS: readonly WeightsEntry[] = TORCHVISION_ROWS.map(torchvisionEntry);
