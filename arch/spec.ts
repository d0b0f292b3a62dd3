/**
 * The one description of a ResNet: {@link ResNetSpec}, and the naming schemes that are the
 * weight-file contract. The graph builder, the folded inference path, every importer and every
 * exporter read a spec (through its plan), so adding a variant means adding data here and in
 * the plan, not code paths elsewhere. The named architectures are in `presets.ts`.
 *
 * @example
 * ```ts
 * import { KERAS_NAMES, layerName } from "./spec.ts";
 * console.log(layerName(KERAS_NAMES.conv, 0, 1, 2)); // "conv2_block2_2_conv"
 * ```
 *
 * @module
 */

/**
 * Layer-name templates: the naming scheme is also the weight-file contract (as in Keras
 * Applications). Tokens: `{s}` stage (1-based), `{S}` stage + 1 (Keras `conv2`…`conv5`),
 * `{b}` block (0-based), `{B}` block (1-based), `{i}` conv index inside the block (1-based).
 *
 * @example
 * ```ts
 * import { KERAS_NAMES, layerName } from "./spec.ts";
 * console.log(layerName(KERAS_NAMES.shortcutConv, 1, 0)); // conv3_block1_0_conv
 * ```
 */
export interface NamingScheme {
  /** Scheme id, recorded in weight files. */
  id: string;
  /** Stem convolution. */
  stemConv: string;
  /** BatchNorm after the stem convolution. */
  stemBn: string;
  /** Non-affine BatchNorm on the raw input (MXNet Gluon v2 only). */
  inputBn: string;
  /** The i-th convolution of a block. */
  conv: string;
  /** The BatchNorm after the i-th convolution of a block (v1) or before the (i+1)-th (v2). */
  bn: string;
  /** Pre-activation BatchNorm at the start of a v2 block. */
  preactBn: string;
  /** Projection-shortcut convolution. */
  shortcutConv: string;
  /** BatchNorm after the projection-shortcut convolution (v1 only). */
  shortcutBn: string;
  /** Final BatchNorm of a v2 network. */
  postBn: string;
  /** Classifier. */
  dense: string;
  /** The framework's parameter count includes BN moving statistics (Keras `count_params`). */
  countsStatistics: boolean;
}

/**
 * One complete ResNet architecture description.
 *
 * @example
 * ```ts
 * import type { ResNetSpec } from "./spec.ts";
 * import { getSpec } from "./presets.ts";
 * // A wider ResNet-18: every stage twice as many channels.
 * const wide: ResNetSpec = { ...getSpec("resnet18"), name: "resnet18_wide", widths: [128, 256, 512, 1024] };
 * console.log(wide.block, wide.depths); // basic [ 2, 2, 2, 2 ]
 * ```
 */
export interface ResNetSpec {
  /** Preset name, e.g. `resnet50`. */
  name: string;
  /** ImageNet stem (7×7/2 conv + 3×3/2 max-pool) or CIFAR stem (3×3/1 conv, no pool). */
  stem: "imagenet" | "cifar";
  /** Output channels of the stem convolution. */
  stemWidth: number;
  /** Basic (two 3×3) or bottleneck (1×1, 3×3, 1×1) residual blocks. */
  block: "basic" | "bottleneck";
  /** Blocks per stage. */
  depths: readonly number[];
  /** Base width per stage; a block outputs `widths[s] * expansion` channels. */
  widths: readonly number[];
  /** Output-channel multiplier of a block: 1 for basic, 4 for bottleneck. */
  expansion: number;
  /** Stride of each stage. */
  stageStrides: readonly number[];
  /** Which block of a stage carries the stride: the first (torchvision, TF official) or the last (Keras V2). */
  strideBlock: "first" | "last";
  /** Where a bottleneck carries the stride: the first 1×1 (original v1, Keras, Gluon) or the 3×3 (v1.5). */
  strideConv: "1x1" | "3x3";
  /** Pre-activation blocks (ResNet v2): BN-ReLU before each block, no ReLU after the add. */
  preact: boolean;
  /** BN + ReLU right after the stem convolution (true for v1, and for Gluon v2). */
  stemNorm: boolean;
  /** A non-affine BatchNorm normalises the raw input (Gluon v2). */
  inputBn: boolean;
  /** Shortcut when channels change: 1×1 projection, or option A (subsample + zero-padded channels). */
  shortcut: "projection" | "optionA";
  /**
   * How an identity shortcut of a strided block subsamples: every `stride`-th pixel
   * (`x[:, :, ::2, ::2]`, `MaxPool2d(1, 2)`, Keras' `MaxPooling2D(1, 2)`) or the average of each
   * `stride`×`stride` window (`F.avg_pool2d(x, 2)`). Option-A shortcuts carry no weights, so a
   * weights-only file cannot tell: see {@link OPTION_A_CONVENTION}.
   */
  shortcutSubsample: "slice" | "avgpool";
  /**
   * Where an option-A shortcut puts its zero channels: half before and half after the existing
   * ones (`F.pad(x, (0, 0, 0, 0, p, p))`, He et al.'s CIFAR code as akamaster wrote it), or all
   * after them (`F.pad(x, (0, 0, 0, 0, 0, 2p))`, `torch.cat([x, zeros], 1)`).
   */
  shortcutPad: "both" | "end";
  /** Which convolutions have a bias: all (Keras v1), none (torchvision), or those not followed by a BN (Keras V2). */
  convBias: "all" | "none" | "unnormalized";
  /** BatchNorm epsilon. */
  bnEpsilon: number;
  /** Stem max-pool padding: explicit zero pad of 1 (Keras; equals PyTorch's -inf pad after a ReLU) or TF 'same'. */
  poolPadding: "zeros" | "same";
  /** Classes of the classifier head. */
  classes: number;
  /** Layer names. */
  naming: NamingScheme;
}

/**
 * The values each discrete field of a {@link ResNetSpec} may take, in order of preference: what
 * a spec read from a file is checked against, and what the structure matcher tries when a file
 * does not say. Adding an option to the spec means adding its values here and reading it in the
 * plan.
 *
 * @example
 * ```ts
 * import { SPEC_CHOICES } from "./spec.ts";
 * console.log(SPEC_CHOICES.block); // [ "basic", "bottleneck" ]
 * ```
 */
export const SPEC_CHOICES = {
  stem: ["imagenet", "cifar"],
  block: ["basic", "bottleneck"],
  strideBlock: ["first", "last"],
  strideConv: ["3x3", "1x1"],
  preact: [false, true],
  stemNorm: [true, false],
  inputBn: [false, true],
  shortcut: ["projection", "optionA"],
  shortcutSubsample: ["slice", "avgpool"],
  shortcutPad: ["both", "end"],
  convBias: ["none", "unnormalized", "all"],
  poolPadding: ["zeros", "same"],
} as const satisfies { [K in keyof ResNetSpec]?: readonly ResNetSpec[K][] };

/**
 * The option-A shortcut a weights-only file is assumed to have: akamaster's
 * `F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, p, p))`, the most common CIFAR ResNet code.
 *
 * @example
 * ```ts
 * import { OPTION_A_CONVENTION } from "./spec.ts";
 * console.log(OPTION_A_CONVENTION); // { shortcutSubsample: "slice", shortcutPad: "both" }
 * ```
 */
export const OPTION_A_CONVENTION: Pick<ResNetSpec, "shortcutSubsample" | "shortcutPad"> = {
  shortcutSubsample: "slice",
  shortcutPad: "both",
};

/**
 * The name of an option-A variant, as `--shortcut` takes it: `slice-both`, `slice-end`,
 * `avgpool-both` or `avgpool-end`.
 *
 * @example
 * ```ts
 * import { OPTION_A_CONVENTION, shortcutName } from "./spec.ts";
 * console.log(shortcutName(OPTION_A_CONVENTION)); // slice-both
 * ```
 */
export function shortcutName(spec: Pick<ResNetSpec, "shortcutSubsample" | "shortcutPad">): string {
  return `${spec.shortcutSubsample}-${spec.shortcutPad}`;
}

/**
 * The option-A variant a `--shortcut` name stands for (see {@link shortcutName}), or undefined.
 *
 * @example
 * ```ts
 * import { parseShortcut } from "./spec.ts";
 * console.log(parseShortcut("avgpool-end")); // { shortcutSubsample: "avgpool", shortcutPad: "end" }
 * console.log(parseShortcut("zeros")); // undefined
 * ```
 */
export function parseShortcut(
  name: string,
): Pick<ResNetSpec, "shortcutSubsample" | "shortcutPad"> | undefined {
  const [subsample, pad] = name.split("-");
  const shortcutSubsample = SPEC_CHOICES.shortcutSubsample.find((v) => v === subsample);
  const shortcutPad = SPEC_CHOICES.shortcutPad.find((v) => v === pad);
  return shortcutSubsample && shortcutPad ? { shortcutSubsample, shortcutPad } : undefined;
}

/** torchvision `resnet.py` names (`conv1`, `layer1.0.conv1`, `layer2.0.downsample.0`, `fc`). */
export const TORCHVISION_NAMES: NamingScheme = {
  id: "torchvision",
  stemConv: "conv1",
  stemBn: "bn1",
  inputBn: "bn_data",
  conv: "layer{s}.{b}.conv{i}",
  bn: "layer{s}.{b}.bn{i}",
  preactBn: "layer{s}.{b}.bn0",
  shortcutConv: "layer{s}.{b}.downsample.0",
  shortcutBn: "layer{s}.{b}.downsample.1",
  postBn: "bn_final",
  dense: "fc",
  countsStatistics: false,
};

/** akamaster/pytorch_resnet_cifar10 names (`linear` head, `shortcut.0` projection). */
export const CIFAR_NAMES: NamingScheme = {
  ...TORCHVISION_NAMES,
  id: "cifar",
  shortcutConv: "layer{s}.{b}.shortcut.0",
  shortcutBn: "layer{s}.{b}.shortcut.1",
  dense: "linear",
};

/** Keras Applications names (`conv1_conv`, `conv2_block1_0_conv`, `predictions`). */
export const KERAS_NAMES: NamingScheme = {
  id: "keras",
  stemConv: "conv1_conv",
  stemBn: "conv1_bn",
  inputBn: "input_bn",
  conv: "conv{S}_block{B}_{i}_conv",
  bn: "conv{S}_block{B}_{i}_bn",
  preactBn: "conv{S}_block{B}_preact_bn",
  shortcutConv: "conv{S}_block{B}_0_conv",
  shortcutBn: "conv{S}_block{B}_0_bn",
  postBn: "post_bn",
  dense: "predictions",
  countsStatistics: true,
};

/**
 * Fills a naming template.
 *
 * @example
 * ```ts
 * console.log(layerName(KERAS_NAMES.conv, 0, 1, 2)); // "conv2_block2_2_conv"
 * ```
 */
export function layerName(template: string, stage = 0, block = 0, conv = 0): string {
  return template
    .replaceAll("{s}", String(stage + 1))
    .replaceAll("{S}", String(stage + 2))
    .replaceAll("{b}", String(block))
    .replaceAll("{B}", String(block + 1))
    .replaceAll("{i}", String(conv));
}

/**
 * The square input size an architecture is trained and exported at: 224 for the ImageNet stem,
 * 32 for the CIFAR one. (`predict` takes any size of at least 32.)
 *
 * @example
 * ```ts
 * import { getSpec } from "./presets.ts";
 * console.log(defaultInputSize(getSpec("resnet50")), defaultInputSize(getSpec("cifar_resnet20"))); // 224 32
 * ```
 */
export function defaultInputSize(spec: Pick<ResNetSpec, "stem">): number {
  return spec.stem === "imagenet" ? 224 : 32;
}

/**
 * Checks a model's spatial input size `[height, width]`: whole numbers of at least 32, which
 * five stride-2 stages need to leave a 1×1 map (Keras' `min_size`).
 *
 * @throws {RangeError} Naming the size given.
 *
 * @example
 * ```ts
 * checkInputShape([224, 224]); // fine
 * try {
 *   checkInputShape([31, 64]);
 * } catch (error) {
 *   console.log((error as Error).message); // inputShape must be at least 32×32, got [31,64]
 * }
 * ```
 */
export function checkInputShape(shape: readonly [number, number] | undefined): void {
  if (shape?.some((n) => !Number.isInteger(n) || n < 32)) {
    throw new RangeError(`inputShape must be at least 32×32, got [${shape}]`);
  }
}
