/**
 * The named architectures: torchvision's, Keras Applications' v1 and V2 and He et al.'s CIFAR
 * nets, each a {@link ResNetSpec} built from shared family defaults.
 *
 * @example
 * ```ts
 * import { getSpec } from "./presets.ts";
 * const spec = getSpec("resnet50");
 * console.log(spec.block, spec.depths); // "bottleneck" [3, 4, 6, 3]
 * ```
 *
 * @module
 */

import {
  CIFAR_NAMES,
  KERAS_NAMES,
  OPTION_A_CONVENTION,
  type ResNetSpec,
  TORCHVISION_NAMES,
} from "./spec.ts";

const IMAGENET_WIDTHS = [64, 128, 256, 512] as const;

const TORCHVISION: Omit<ResNetSpec, "name" | "block" | "depths" | "expansion"> = {
  stem: "imagenet",
  stemWidth: 64,
  widths: IMAGENET_WIDTHS,
  stageStrides: [1, 2, 2, 2],
  strideBlock: "first",
  strideConv: "3x3",
  preact: false,
  stemNorm: true,
  inputBn: false,
  shortcut: "projection",
  ...OPTION_A_CONVENTION,
  convBias: "none",
  bnEpsilon: 1e-5,
  poolPadding: "zeros",
  classes: 1000,
  naming: TORCHVISION_NAMES,
};

const KERAS_V1: typeof TORCHVISION = {
  ...TORCHVISION,
  strideConv: "1x1",
  convBias: "all",
  bnEpsilon: 1.001e-5,
  naming: KERAS_NAMES,
};

const KERAS_V2: typeof TORCHVISION = {
  ...KERAS_V1,
  stageStrides: [2, 2, 2, 1],
  strideBlock: "last",
  strideConv: "3x3",
  preact: true,
  stemNorm: false,
  convBias: "unnormalized",
};

const CIFAR: typeof TORCHVISION = {
  ...TORCHVISION,
  stem: "cifar",
  stemWidth: 16,
  widths: [16, 32, 64],
  stageStrides: [1, 2, 2],
  shortcut: "optionA",
  classes: 10,
  naming: CIFAR_NAMES,
};

const BASIC = { block: "basic", expansion: 1 } as const;
const BOTTLENECK = { block: "bottleneck", expansion: 4 } as const;

function cifar(depth: number): ResNetSpec {
  const n = (depth - 2) / 6;
  return { ...CIFAR, ...BASIC, name: `cifar_resnet${depth}`, depths: [n, n, n] };
}

/**
 * Every named architecture, keyed by name.
 *
 * @example
 * ```ts
 * import { PRESETS } from "./presets.ts";
 * console.log(Object.keys(PRESETS).length, PRESETS.resnet50.depths); // 18 [ 3, 4, 6, 3 ]
 * ```
 */
export const PRESETS: Readonly<Record<string, ResNetSpec>> = Object.fromEntries(
  [
    { ...TORCHVISION, ...BASIC, name: "resnet18", depths: [2, 2, 2, 2] },
    { ...TORCHVISION, ...BASIC, name: "resnet34", depths: [3, 4, 6, 3] },
    { ...TORCHVISION, ...BOTTLENECK, name: "resnet50", depths: [3, 4, 6, 3] },
    { ...TORCHVISION, ...BOTTLENECK, name: "resnet101", depths: [3, 4, 23, 3] },
    { ...TORCHVISION, ...BOTTLENECK, name: "resnet152", depths: [3, 8, 36, 3] },
    { ...KERAS_V1, ...BOTTLENECK, name: "keras_resnet50", depths: [3, 4, 6, 3] },
    { ...KERAS_V1, ...BOTTLENECK, name: "keras_resnet101", depths: [3, 4, 23, 3] },
    { ...KERAS_V1, ...BOTTLENECK, name: "keras_resnet152", depths: [3, 8, 36, 3] },
    { ...KERAS_V2, ...BASIC, name: "resnet18v2", depths: [2, 2, 2, 2] },
    { ...KERAS_V2, ...BASIC, name: "resnet34v2", depths: [3, 4, 6, 3] },
    { ...KERAS_V2, ...BOTTLENECK, name: "resnet50v2", depths: [3, 4, 6, 3] },
    { ...KERAS_V2, ...BOTTLENECK, name: "resnet101v2", depths: [3, 4, 23, 3] },
    { ...KERAS_V2, ...BOTTLENECK, name: "resnet152v2", depths: [3, 8, 36, 3] },
    ...[20, 32, 44, 56, 110].map(cifar),
  ].map((spec): [string, ResNetSpec] => [spec.name, spec]),
);

/**
 * Looks up a preset by name; unknown names fail with the list of known ones.
 *
 * @example
 * ```ts
 * const spec = getSpec("cifar_resnet20");
 * console.log(spec.depths); // [3, 3, 3]
 * ```
 */
export function getSpec(name: string): ResNetSpec {
  const spec = PRESETS[name];
  if (!spec) {
    throw new Error(`unknown architecture '${name}'; known: ${Object.keys(PRESETS).join(", ")}`);
  }
  return spec;
}

/**
 * Names of every preset architecture.
 *
 * @example
 * ```ts
 * console.log(listArchitectures().includes("resnet50")); // true
 * ```
 */
export function listArchitectures(): string[] {
  return Object.keys(PRESETS);
}

/**
 * CIFAR option B: projection shortcuts instead of zero-padded identity ones.
 *
 * @example
 * ```ts
 * const b = withOptionB(getSpec("cifar_resnet20"));
 * console.log(b.shortcut); // "projection"
 * ```
 */
export function withOptionB(spec: ResNetSpec): ResNetSpec {
  return { ...spec, name: `${spec.name}_b`, shortcut: "projection" };
}
