/**
 * torchvision's ImageNet ResNet weights: the `IMAGENET1K_V1` and `IMAGENET1K_V2` members of its
 * Weights enums (table B.1), whose torch.hub file names carry the start of their SHA-256.
 *
 * @example
 * ```ts
 * import { TORCHVISION_WEIGHTS } from "./torchvision.ts";
 * console.log(TORCHVISION_WEIGHTS.length, TORCHVISION_WEIGHTS[3].id); // 8 resnet50.tv2_in1k
 * ```
 *
 * @module
 */

import type { WeightsEntry } from "../registry.ts";

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

/** torchvision's ResNet weights, V1 and V2, in the order of its table. */
export const TORCHVISION_WEIGHTS: readonly WeightsEntry[] = TORCHVISION_ROWS.map(torchvisionEntry);
