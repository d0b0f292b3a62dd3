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
  type ResNetSpec,
  SPEC_DEFAULTS,
  TF_OFFICIAL_NAMES,
  TIMM_AVG_DOWN_NAMES,
  TIMM_V2_NAMES,
  TORCHVISION_NAMES,
} from "./spec.ts";

const IMAGENET_WIDTHS = [64, 128, 256, 512] as const;

const TORCHVISION: Omit<ResNetSpec, "name" | "block" | "depths" | "expansion"> = {
  ...SPEC_DEFAULTS,
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

/**
 * TensorFlow's official ResNet v2 (`official/r1/resnet`, the seed's `model_layers`): pre-activation
 * blocks with the stride on the first block of each block layer (and a bottleneck's 3×3), a
 * projection on every block layer's first block, `conv_initial` 7×7/2 without a norm after it,
 * `pool_initial` 3×3/2 'same', filters doubling per block layer, BatchNorm (eps 1e-5) as the only
 * regulariser, a final BN-ReLU, global average pool and dense logits over 1001 classes
 * (background first), as its checkpoints have.
 */
const TF_OFFICIAL_V2: typeof TORCHVISION = {
  ...TORCHVISION,
  preact: true,
  stemNorm: false,
  projectEveryStage: true,
  poolPadding: "same",
  classes: 1001,
  naming: TF_OFFICIAL_NAMES,
};

/** timm's ResNet-D (`resnet.py`, `stem_type='deep'`, `avg_down=True`): the deep stem and pooled projections. */
const TIMM_D: typeof TORCHVISION = {
  ...TORCHVISION,
  stem: "deep",
  avgDown: true,
  naming: TIMM_AVG_DOWN_NAMES,
};

/** timm's SE-ResNet (`block_args=dict(attn_layer='se')`): SE (ratio 1/16, divisor 8) before each add. */
const TIMM_SE: typeof TORCHVISION = { ...TORCHVISION, attention: "se" };

/**
 * BiT (Kolesnikov et al. 2020, timm's `resnetv2_*_bit`): pre-activation bottlenecks whose norms
 * are GroupNorms of 32 groups and whose convolutions are weight-standardised (ε 1e-8), a 7×7
 * stem with no norm, max-pool after a zero pad of 1 (`stem_type='fixed'`), the final GroupNorm-ReLU
 * before the pool.
 */
const TIMM_BIT: typeof TORCHVISION = {
  ...TORCHVISION,
  preact: true,
  stemNorm: false,
  norm: "group",
  normGroups: 32,
  weightStandardization: 1e-8,
  naming: TIMM_V2_NAMES,
};

/** torchvision's ResNeXt (`groups`, `width_per_group`) and Wide ResNet (`width_per_group=128`). */
const resnext = (groups: number, baseWidth: number) => ({ groups, baseWidth });

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
 * console.log(Object.keys(PRESETS).length, PRESETS.resnet50.depths); // 36 [ 3, 4, 6, 3 ]
 * ```
 */
export const PRESETS: Readonly<Record<string, ResNetSpec>> = Object.fromEntries(
  [
    { ...TORCHVISION, ...BASIC, name: "resnet18", depths: [2, 2, 2, 2] },
    { ...TORCHVISION, ...BASIC, name: "resnet34", depths: [3, 4, 6, 3] },
    { ...TORCHVISION, ...BOTTLENECK, name: "resnet50", depths: [3, 4, 6, 3] },
    { ...TORCHVISION, ...BOTTLENECK, name: "resnet101", depths: [3, 4, 23, 3] },
    { ...TORCHVISION, ...BOTTLENECK, name: "resnet152", depths: [3, 8, 36, 3] },
    {
      ...TORCHVISION,
      ...BOTTLENECK,
      ...resnext(32, 4),
      name: "resnext50_32x4d",
      depths: [3, 4, 6, 3],
    },
    {
      ...TORCHVISION,
      ...BOTTLENECK,
      ...resnext(32, 8),
      name: "resnext101_32x8d",
      depths: [3, 4, 23, 3],
    },
    {
      ...TORCHVISION,
      ...BOTTLENECK,
      ...resnext(64, 4),
      name: "resnext101_64x4d",
      depths: [3, 4, 23, 3],
    },
    {
      ...TORCHVISION,
      ...BOTTLENECK,
      ...resnext(1, 128),
      name: "wide_resnet50_2",
      depths: [3, 4, 6, 3],
    },
    {
      ...TORCHVISION,
      ...BOTTLENECK,
      ...resnext(1, 128),
      name: "wide_resnet101_2",
      depths: [3, 4, 23, 3],
    },
    { ...TIMM_D, ...BASIC, name: "resnet18d", depths: [2, 2, 2, 2] },
    { ...TIMM_D, ...BASIC, name: "resnet34d", depths: [3, 4, 6, 3] },
    { ...TIMM_D, ...BOTTLENECK, name: "resnet26d", depths: [2, 2, 2, 2] },
    { ...TIMM_D, ...BOTTLENECK, name: "resnet50d", depths: [3, 4, 6, 3] },
    { ...TIMM_D, ...BOTTLENECK, name: "resnet101d", depths: [3, 4, 23, 3] },
    { ...TIMM_SE, ...BOTTLENECK, name: "seresnet50", depths: [3, 4, 6, 3] },
    {
      ...TIMM_D,
      ...BOTTLENECK,
      attention: "eca" as const,
      name: "ecaresnet50d",
      depths: [3, 4, 6, 3],
    },
    {
      ...TIMM_D,
      ...BOTTLENECK,
      ...resnext(32, 4),
      attention: "se" as const,
      name: "seresnext26d_32x4d",
      depths: [2, 2, 2, 2],
    },
    { ...KERAS_V1, ...BOTTLENECK, name: "keras_resnet50", depths: [3, 4, 6, 3] },
    { ...KERAS_V1, ...BOTTLENECK, name: "keras_resnet101", depths: [3, 4, 23, 3] },
    { ...KERAS_V1, ...BOTTLENECK, name: "keras_resnet152", depths: [3, 8, 36, 3] },
    { ...KERAS_V2, ...BASIC, name: "resnet18v2", depths: [2, 2, 2, 2] },
    { ...KERAS_V2, ...BASIC, name: "resnet34v2", depths: [3, 4, 6, 3] },
    { ...KERAS_V2, ...BOTTLENECK, name: "resnet50v2", depths: [3, 4, 6, 3] },
    { ...KERAS_V2, ...BOTTLENECK, name: "resnet101v2", depths: [3, 4, 23, 3] },
    { ...KERAS_V2, ...BOTTLENECK, name: "resnet152v2", depths: [3, 8, 36, 3] },
    { ...TIMM_BIT, ...BOTTLENECK, name: "resnetv2_50x1_bit", depths: [3, 4, 6, 3] },
    { ...TIMM_BIT, ...BOTTLENECK, name: "resnetv2_101x1_bit", depths: [3, 4, 23, 3] },
    ...[20, 32, 44, 56, 110].map(cifar),
    { ...TF_OFFICIAL_V2, ...BASIC, name: "tf_resnet18_v2", depths: [2, 2, 2, 2] },
    { ...TF_OFFICIAL_V2, ...BASIC, name: "tf_resnet34_v2", depths: [3, 4, 6, 3] },
    { ...TF_OFFICIAL_V2, ...BOTTLENECK, name: "tf_resnet50_v2", depths: [3, 4, 6, 3] },
    { ...TF_OFFICIAL_V2, ...BOTTLENECK, name: "tf_resnet101_v2", depths: [3, 4, 23, 3] },
    { ...TF_OFFICIAL_V2, ...BOTTLENECK, name: "tf_resnet152_v2", depths: [3, 8, 36, 3] },
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
