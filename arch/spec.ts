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
 * `{t}` stage (0-based), `{b}` block (0-based), `{B}` block (1-based), `{i}` conv index inside
 * the block (1-based), `{I}` that index + 1 (timm's v2 `norm2` before `conv2`).
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
  /** The stem max-pool (a layer name only; it has no weights). */
  stemPool: string;
  /** The three convolutions of a deep stem (`stem: "deep"` or `"deepTiered"`), in order. */
  deepStemConvs: readonly string[];
  /** The norms after the first two deep-stem convolutions (the third's is {@link stemBn}). */
  deepStemBns: readonly string[];
  /** The i-th 1×1 convolution (1: reduce, 2: expand) of a squeeze-and-excitation module. */
  seConv: string;
  /** The 1-D convolution across channels of an ECA module. */
  ecaConv: string;
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
  /**
   * The stem: `imagenet` (7×7/2 conv + 3×3/2 max-pool), `cifar` (3×3/1 conv, no pool), or a deep
   * stem of three 3×3 convs, the first strided, before the max-pool (the "C"/"D" tweak of He et
   * al. 2019): `deep` with widths stemWidth/2, stemWidth/2, stemWidth (timm's "c", "d"),
   * `deepTiered` with 3·stemWidth/8, stemWidth/2, stemWidth (timm's "t").
   */
  stem: "imagenet" | "cifar" | "deep" | "deepTiered";
  /** Output channels of the stem (of its last convolution). */
  stemWidth: number;
  /** Basic (two 3×3) or bottleneck (1×1, 3×3, 1×1) residual blocks. */
  block: "basic" | "bottleneck";
  /** Blocks per stage. */
  depths: readonly number[];
  /** Base width per stage; a block outputs `widths[s] * expansion` channels. */
  widths: readonly number[];
  /** Output-channel multiplier of a block: 1 for basic, 4 for bottleneck. */
  expansion: number;
  /**
   * Convolution groups of a bottleneck's 3×3 conv: ResNeXt's cardinality, 1 for an ordinary
   * conv. Basic blocks have none.
   */
  groups: number;
  /**
   * A bottleneck's inner width per group for 64 base channels: its 1×1 and 3×3 convs have
   * `floor(widths[s] * baseWidth / 64) * groups` channels (torchvision's `width_per_group`):
   * 64 for ResNet, 128 for Wide ResNet-50-2, 4 for ResNeXt 32×4d. Basic blocks: 64.
   */
  baseWidth: number;
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
   * A projection shortcut of a strided block averages 2×2 windows (ceil mode, padding not
   * counted) and then convolves at stride 1 (timm's `avg_down`, the "D" tweak), instead of
   * convolving at the stride.
   */
  avgDown: boolean;
  /**
   * The first block of every stage has a projection shortcut, even where its input already has
   * the block's shape (TF official's `block_layer`); otherwise only where channels or size change.
   */
  projectEveryStage: boolean;
  /**
   * Channel attention on each block's residual branch: none, squeeze-and-excitation (Hu et al.
   * 2018: global mean, 1×1 reduce, ReLU, 1×1 expand, sigmoid gate) or ECA (Wang et al. 2020:
   * global mean, a 1-D conv across channels whose odd kernel grows with log2 of the channel
   * count, γ = 2, b = 1, sigmoid gate).
   */
  attention: "none" | "se" | "eca";
  /**
   * Where attention sits: at the end of the residual branch, after its last norm (SENet, timm's
   * ResNet), or after the 3×3 (basic: first) conv's norm and ReLU (timm's ByobNet default).
   */
  attentionAt: "end" | "mid";
  /** Squeeze-and-excitation reduction ratio: the squeeze has about `channels / seReduction` channels. */
  seReduction: number;
  /**
   * The squeeze's channels are rounded to a multiple of this, at least one multiple (timm's
   * `make_divisible(channels / seReduction, seDivisor)`: 8 in timm, 1 in the original SENet).
   */
  seDivisor: number;
  /**
   * The norm after (v1) or before (v2) each convolution: BatchNorm, which inference folds into
   * the conv, or GroupNorm over `normGroups` groups (Wu & He 2018; BiT), computed. Both take
   * `bnEpsilon`. A Gluon input BN stays a BatchNorm.
   */
  norm: "batch" | "group";
  /** Groups of a GroupNorm (BiT: 32). */
  normGroups: number;
  /**
   * Weight standardisation of every convolution but the attention gates' (Qiao et al. 2019; BiT's
   * `StdConv2d`): each output channel's kernel becomes (w − mean) / sqrt(var + ε) before it is
   * applied, with this ε (BiT: 1e-8); 0 for plain convolutions. The stored weights are the raw
   * ones; inference standardises them once when it compiles.
   */
  weightStandardization: number;
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
  stem: ["imagenet", "cifar", "deep", "deepTiered"],
  block: ["basic", "bottleneck"],
  strideBlock: ["first", "last"],
  strideConv: ["3x3", "1x1"],
  preact: [false, true],
  stemNorm: [true, false],
  inputBn: [false, true],
  shortcut: ["projection", "optionA"],
  avgDown: [false, true],
  projectEveryStage: [false, true],
  attention: ["none", "se", "eca"],
  attentionAt: ["end", "mid"],
  norm: ["batch", "group"],
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
 * The values of the fields later versions added, as a spec without them means them: a zoo file
 * written before a field existed reads with its default, which is the behaviour of that time.
 *
 * @example
 * ```ts
 * import { SPEC_DEFAULTS } from "./spec.ts";
 * console.log(SPEC_DEFAULTS.groups, SPEC_DEFAULTS.attention); // 1 none
 * ```
 */
export const SPEC_DEFAULTS: Readonly<
  Pick<
    ResNetSpec,
    | "groups"
    | "baseWidth"
    | "avgDown"
    | "projectEveryStage"
    | "attention"
    | "attentionAt"
    | "seReduction"
    | "seDivisor"
    | "norm"
    | "normGroups"
    | "weightStandardization"
    | "shortcutSubsample"
    | "shortcutPad"
  >
> = {
  ...OPTION_A_CONVENTION,
  groups: 1,
  baseWidth: 64,
  avgDown: false,
  projectEveryStage: false,
  attention: "none",
  attentionAt: "end",
  seReduction: 16,
  seDivisor: 8,
  norm: "batch",
  normGroups: 32,
  weightStandardization: 0,
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
  stemPool: "pool1_pool",
  // timm's `conv1` Sequential of a deep stem: conv, BN, ReLU, conv, BN, ReLU, conv.
  deepStemConvs: ["conv1.0", "conv1.3", "conv1.6"],
  deepStemBns: ["conv1.1", "conv1.4"],
  seConv: "layer{s}.{b}.se.fc{i}",
  ecaConv: "layer{s}.{b}.se.conv",
};

/**
 * timm `resnet.py` names of nets with average-pool downsampling (`resnet50d`, `resnet26d`, …):
 * torchvision's, but the projection sits behind the pool in `downsample` (`downsample.1` conv,
 * `downsample.2` BN), and a deep stem is the `conv1` Sequential.
 */
export const TIMM_AVG_DOWN_NAMES: NamingScheme = {
  ...TORCHVISION_NAMES,
  id: "timm",
  shortcutConv: "layer{s}.{b}.downsample.1",
  shortcutBn: "layer{s}.{b}.downsample.2",
};

/**
 * timm `resnetv2.py` names (BiT): `stem.conv`, `stages.{0…3}.blocks.{b}` with `norm1` (the
 * pre-activation), `conv1`, `norm2`, `conv2`, `norm3`, `conv3`, `downsample.conv`, then `norm`
 * and the classifier `head.fc`.
 */
export const TIMM_V2_NAMES: NamingScheme = {
  ...TORCHVISION_NAMES,
  id: "timm_v2",
  stemConv: "stem.conv",
  stemBn: "stem.norm",
  conv: "stages.{t}.blocks.{b}.conv{i}",
  bn: "stages.{t}.blocks.{b}.norm{I}",
  preactBn: "stages.{t}.blocks.{b}.norm1",
  shortcutConv: "stages.{t}.blocks.{b}.downsample.conv",
  shortcutBn: "stages.{t}.blocks.{b}.downsample.norm",
  postBn: "norm",
  dense: "head.fc",
  stemPool: "stem.pool",
  deepStemConvs: ["stem.conv1", "stem.conv2", "stem.conv3"],
  deepStemBns: ["stem.norm1", "stem.norm2"],
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
  stemPool: "pool1_pool",
  deepStemConvs: ["conv1_1_conv", "conv1_2_conv", "conv1_3_conv"],
  deepStemBns: ["conv1_1_bn", "conv1_2_bn"],
  seConv: "conv{S}_block{B}_se_{i}_conv",
  ecaConv: "conv{S}_block{B}_eca_conv",
};

/**
 * TensorFlow's official ResNet (`official/r1/resnet/resnet_model.py`, the `model_layers` of the
 * seed) named as its graph reads: `conv_initial`, `pool_initial`, then `block_layer{1…4}`, each
 * block's convolutions and norms within it, a `projection` on the first block, and the final
 * norm and `final_dense`.
 *
 * @example
 * ```ts
 * import { countParams, planResNet } from "./plan.ts";
 * import { getSpec } from "./presets.ts";
 * import { type ResNetSpec, TF_OFFICIAL_NAMES } from "./spec.ts";
 * // The seed's description of TensorFlow's official ResNet-50 v2, field by field:
 * const seed: ResNetSpec = {
 *   ...getSpec("resnet50"), // conv_initial 7×7/2, pool_initial 3×3/2, bottlenecks [3, 4, 6, 3]
 *   name: "tf_resnet50_v2",
 *   widths: [64, 128, 256, 512], // filters double per block layer
 *   preact: true, // v2: BN-ReLU before each block, and a final BN-ReLU
 *   stemNorm: false, // nothing between conv_initial and pool_initial
 *   poolPadding: "same", // pool_initial pads 'same'
 *   strideBlock: "first", // a block layer strides in its first block,
 *   strideConv: "3x3", // on the 3×3 conv,
 *   projectEveryStage: true, // and its first block projects the shortcut
 *   convBias: "none", // no conv biases: BatchNorm (eps 1e-5) is the only regulariser
 *   bnEpsilon: 1e-5,
 *   classes: 1001, // pool, then dense logits over 1001 classes (0 is background)
 *   naming: TF_OFFICIAL_NAMES,
 * };
 * const preset = getSpec("tf_resnet50_v2");
 * const same = (Object.keys(preset) as (keyof ResNetSpec)[])
 *   .every((k) => JSON.stringify(seed[k]) === JSON.stringify(preset[k]));
 * const plan = planResNet(seed);
 * const names = plan.nodes.flatMap((n) => "name" in n ? [n.name] : []);
 * console.log(same, countParams(plan).trainable); // true 25551401
 * console.log(names.slice(0, 5)); // conv_initial, pool_initial, block_layer1_block1_preact_bn, …_projection, …_conv1
 * console.log(names.slice(-2)); // [ "final_bn", "final_dense" ]
 * ```
 */
export const TF_OFFICIAL_NAMES: NamingScheme = {
  id: "tf_official",
  stemConv: "conv_initial",
  stemBn: "conv_initial_bn",
  inputBn: "input_bn",
  conv: "block_layer{s}_block{B}_conv{i}",
  bn: "block_layer{s}_block{B}_bn{i}",
  preactBn: "block_layer{s}_block{B}_preact_bn",
  shortcutConv: "block_layer{s}_block{B}_projection",
  shortcutBn: "block_layer{s}_block{B}_projection_bn",
  postBn: "final_bn",
  dense: "final_dense",
  countsStatistics: false,
  stemPool: "pool_initial",
  deepStemConvs: ["conv_initial_1", "conv_initial_2", "conv_initial_3"],
  deepStemBns: ["conv_initial_1_bn", "conv_initial_2_bn"],
  seConv: "block_layer{s}_block{B}_se{i}",
  ecaConv: "block_layer{s}_block{B}_eca",
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
  // One pass over the template: the structure matcher plans many candidates, each naming every
  // layer, and seven replaceAll passes were a fifth of a ResNet-50 import.
  return template.replace(TOKEN, (token) => {
    switch (token) {
      case "{s}":
        return String(stage + 1);
      case "{S}":
        return String(stage + 2);
      case "{t}":
        return String(stage);
      case "{I}":
        return String(conv + 1);
      case "{b}":
        return String(block);
      case "{B}":
        return String(block + 1);
      default: // "{i}"
        return String(conv);
    }
  });
}

/** The placeholders of a naming template (see {@link layerName}). */
const TOKEN = /\{[sStIbBi]\}/g;

/**
 * The square input size an architecture is trained and exported at: 224 for the ImageNet and
 * deep stems, 32 for the CIFAR one. (`predict` takes any size of at least 32.)
 *
 * @example
 * ```ts
 * import { getSpec } from "./presets.ts";
 * console.log(defaultInputSize(getSpec("resnet50")), defaultInputSize(getSpec("cifar_resnet20"))); // 224 32
 * ```
 */
export function defaultInputSize(spec: Pick<ResNetSpec, "stem">): number {
  return spec.stem === "cifar" ? 32 : 224;
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
