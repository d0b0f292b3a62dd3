/**
 * Lowers a {@link ResNetSpec} into a flat list of operations (a plan). The trainable
 * LayersModel, the folded inference path, parameter counting and the importers' list
 * of expected weights are all read off the same plan, so they cannot disagree.
 *
 * @example
 * ```ts
 * import { getSpec } from "./presets.ts";
 * import { planResNet } from "./plan.ts";
 * const plan = planResNet(getSpec("resnet18"));
 * console.log(plan.nodes.filter((n) => n.op === "conv").length); // 20
 * ```
 *
 * @module
 */

import { layerName, type ResNetSpec } from "./spec.ts";

export type {
  AddNode,
  AvgPoolNode,
  BatchNormNode,
  ChannelConvNode,
  ConvNode,
  DenseNode,
  GlobalPoolNode,
  GroupNormNode,
  InputNode,
  MaxPoolNode,
  MulNode,
  PadChannelsNode,
  PlanNode,
  ReluNode,
  SigmoidNode,
  SubsampleNode,
} from "./nodes.ts";
import type { PlanNode } from "./nodes.ts";

/** Where one residual block lies in a plan: `nodes[start]` up to, not including, `nodes[end]`. */
export interface PlanBlock {
  /** Stage, 0-based. */
  stage: number;
  /** Block within its stage, 0-based. */
  block: number;
  /** Index of the block's first node. */
  start: number;
  /** One past the index of its last node, which is the block's output. */
  end: number;
  /** Channels of the block's output. */
  channels: number;
}

/**
 * Nodes in execution order; `nodes[output]` is the result. The nodes fall into three parts:
 * the stem (`nodes[1]` up to `nodes[stemEnd]`), the residual blocks in order (`blocks`), and
 * the rest (final norm, pooling, classifier).
 */
export interface Plan {
  /** The operations. */
  nodes: PlanNode[];
  /** Index of the result node. */
  output: number;
  /** One past the index of the stem's last node. */
  stemEnd: number;
  /** The residual blocks, in order. */
  blocks: PlanBlock[];
  /**
   * Several results, in this order (a feature extractor's maps, see `planFeatures`); absent
   * when the plan has one result, `nodes[output]`. See {@link planOutputs}.
   */
  outputs?: number[];
}

/**
 * The nodes whose values a plan returns, in order: its `outputs`, else its one `output`.
 *
 * @example
 * ```ts
 * import { getSpec } from "./presets.ts";
 * const plan = planResNet(getSpec("cifar_resnet20"));
 * console.log(planOutputs(plan).length, plan.nodes[planOutputs(plan)[0]].op); // 1 dense
 * ```
 */
export function planOutputs(plan: Plan): number[] {
  return plan.outputs ?? [plan.output];
}

/** Options that change the head of a plan. */
export interface PlanOptions {
  /** Keep the pooling + classifier head (default true). */
  includeTop?: boolean;
  /** Global pooling when `includeTop` is false; none gives the 4-D feature map. */
  pooling?: "avg" | "max";
  /** Classifier size; defaults to the spec's. */
  classes?: number;
}

/**
 * Refuses head options a plan cannot have, naming the option and quoting its value: a typo
 * such as `pooling: "mean"` would otherwise give a network without pooling, and `classes: 0`
 * a classifier with no outputs.
 *
 * @throws {RangeError} On an invalid value.
 *
 * @example
 * ```ts
 * try {
 *   checkPlanOptions({ pooling: "mean" as "avg" });
 * } catch (error) {
 *   console.log((error as Error).message); // pooling must be "avg" or "max", got "mean"
 * }
 * ```
 */
export function checkPlanOptions(options: PlanOptions): void {
  const { includeTop, pooling, classes } = options;
  if (includeTop !== undefined && typeof includeTop !== "boolean") {
    throw new RangeError(`includeTop must be true or false, got ${JSON.stringify(includeTop)}`);
  }
  if (pooling !== undefined && pooling !== "avg" && pooling !== "max") {
    throw new RangeError(`pooling must be "avg" or "max", got ${JSON.stringify(pooling)}`);
  }
  if (classes !== undefined && !(Number.isInteger(classes) && classes >= 1)) {
    throw new RangeError(`classes must be a positive integer, got ${JSON.stringify(classes)}`);
  }
}

/**
 * Builds the plan of a spec.
 *
 * @example
 * ```ts
 * import { getSpec } from "./presets.ts";
 * const features = planResNet(getSpec("resnet50"), { includeTop: false, pooling: "avg" });
 * console.log(features.nodes[features.output].op); // "globalPool"
 * ```
 */
export function planResNet(spec: ResNetSpec, options: PlanOptions = {}): Plan {
  checkPlanOptions(options);
  if (spec.block === "basic" && spec.groups !== 1) {
    throw new RangeError(`${spec.name}: basic blocks have no grouped convolution (groups 1)`);
  }
  const nodes: PlanNode[] = [{ op: "input", channels: 3 }];
  const push = (node: PlanNode): number => nodes.push(node) - 1;
  const names = spec.naming;
  const biasBeforeBn = spec.convBias === "all";
  const biasElsewhere = spec.convBias !== "none";
  const conv = (
    name: string,
    input: number,
    inChannels: number,
    outChannels: number,
    kernel: number,
    stride: number,
    followedByBn: boolean,
    groups = 1,
  ): number =>
    push({
      op: "conv",
      name,
      input,
      kernel,
      stride,
      pad: Math.floor(kernel / 2),
      inChannels,
      outChannels,
      groups,
      standardize: spec.weightStandardization,
      bias: followedByBn ? biasBeforeBn : biasElsewhere,
    });
  /** The spec's norm: a BatchNorm, or a GroupNorm. */
  const bn = (name: string, input: number, channels: number): number => {
    if (spec.norm === "group" && channels % spec.normGroups !== 0) {
      throw new RangeError(
        `${spec.name}: '${name}' has ${channels} channels, not a multiple of ${spec.normGroups} groups`,
      );
    }
    return push(
      spec.norm === "group"
        ? { op: "gn", name, input, channels, groups: spec.normGroups, epsilon: spec.bnEpsilon }
        : { op: "bn", name, input, channels, epsilon: spec.bnEpsilon, affine: true },
    );
  };
  const relu = (input: number): number => push({ op: "relu", input });
  const bnRelu = (name: string, input: number, channels: number): number =>
    relu(bn(name, input, channels));

  let x = 0;
  if (spec.inputBn) {
    x = push({
      op: "bn",
      name: names.inputBn,
      input: x,
      channels: 3,
      epsilon: spec.bnEpsilon,
      affine: false,
    });
  }
  if (spec.stem === "deep" || spec.stem === "deepTiered") {
    const [first, second] = deepStemWidths(spec);
    x = bnRelu(names.deepStemBns[0], conv(names.deepStemConvs[0], x, 3, first, 3, 2, true), first);
    x = bnRelu(
      names.deepStemBns[1],
      conv(names.deepStemConvs[1], x, first, second, 3, 1, true),
      second,
    );
    x = conv(names.deepStemConvs[2], x, second, spec.stemWidth, 3, 1, spec.stemNorm);
  } else {
    const imagenet = spec.stem === "imagenet";
    x = conv(
      names.stemConv,
      x,
      3,
      spec.stemWidth,
      imagenet ? 7 : 3,
      imagenet ? 2 : 1,
      spec.stemNorm,
    );
  }
  if (spec.stemNorm) x = bnRelu(names.stemBn, x, spec.stemWidth);
  if (spec.stem !== "cifar") {
    x = push({
      op: "maxpool",
      name: names.stemPool,
      input: x,
      size: 3,
      stride: 2,
      padding: spec.poolPadding,
    });
  }

  /** Channel attention on `y` (`channels` wide) as the spec has it, named for block (s, b). */
  const attend = (y: number, channels: number, s: number, b: number): number => {
    const pooled = push({ op: "globalPool", input: y, kind: "avg", keepDims: true });
    let gate: number;
    if (spec.attention === "se") {
      const squeeze = seChannels(spec, channels);
      const reduce = push({
        op: "conv",
        name: layerName(names.seConv, s, b, 1),
        input: pooled,
        kernel: 1,
        stride: 1,
        pad: 0,
        inChannels: channels,
        outChannels: squeeze,
        groups: 1,
        standardize: 0,
        bias: true,
      });
      gate = push({
        op: "conv",
        name: layerName(names.seConv, s, b, 2),
        input: relu(reduce),
        kernel: 1,
        stride: 1,
        pad: 0,
        inChannels: squeeze,
        outChannels: channels,
        groups: 1,
        standardize: 0,
        bias: true,
      });
    } else {
      const name = layerName(names.ecaConv, s, b);
      gate = push({
        op: "channelConv",
        name,
        input: pooled,
        channels,
        kernel: ecaKernel(channels),
      });
    }
    return push({ op: "mul", inputs: [y, push({ op: "sigmoid", input: gate })] });
  };

  const stemEnd = nodes.length;
  const blocks: PlanBlock[] = [];
  let channels = spec.stemWidth;
  spec.depths.forEach((depth, s) => {
    const width = spec.widths[s];
    const outChannels = width * spec.expansion;
    const inner = Math.floor((width * spec.baseWidth) / 64) * spec.groups;
    for (let b = 0; b < depth; b++) {
      const strideBlock = spec.strideBlock === "first" ? 0 : depth - 1;
      const stride = b === strideBlock ? spec.stageStrides[s] : 1;
      const name = (template: string, i = 0) => layerName(template, s, b, i);
      const start = nodes.length;
      const blockInput = x;
      const mainInput = spec.preact ? bnRelu(name(names.preactBn), x, channels) : x;

      let shortcut = blockInput;
      const projected = channels !== outChannels || (spec.projectEveryStage && b === 0);
      if (projected && spec.shortcut === "projection") {
        const pooled = spec.avgDown && stride > 1;
        shortcut = conv(
          name(names.shortcutConv),
          pooled ? push({ op: "avgpool", input: mainInput, size: 2, stride }) : mainInput,
          channels,
          outChannels,
          1,
          pooled ? 1 : stride,
          !spec.preact,
        );
        if (!spec.preact) shortcut = bn(name(names.shortcutBn), shortcut, outChannels);
      } else {
        if (stride !== 1) {
          shortcut = push({
            op: "subsample",
            input: shortcut,
            stride,
            mode: spec.shortcutSubsample,
          });
        }
        if (channels !== outChannels) {
          const extra = outChannels - channels;
          const before = spec.shortcutPad === "both" ? Math.floor(extra / 2) : 0;
          shortcut = push({ op: "padChannels", input: shortcut, before, after: extra - before });
        }
      }

      const kernels = spec.block === "basic" ? [3, 3] : [1, 3, 1];
      const mid = kernels.indexOf(3);
      const strideAt = spec.block === "basic" || spec.strideConv === "3x3" ? mid : 0;
      let y = mainInput;
      let yChannels = channels;
      kernels.forEach((kernel, i) => {
        const last = i === kernels.length - 1;
        const convOut = last ? outChannels : inner;
        const normalised = !spec.preact || !last;
        y = conv(
          name(names.conv, i + 1),
          y,
          yChannels,
          convOut,
          kernel,
          i === strideAt ? stride : 1,
          normalised,
          kernel === 3 && spec.block === "bottleneck" ? spec.groups : 1,
        );
        if (normalised) y = bn(name(names.bn, i + 1), y, convOut);
        if (!last) y = relu(y);
        if (
          spec.attention !== "none" &&
          (last ? spec.attentionAt === "end" : i === mid && spec.attentionAt === "mid")
        ) {
          y = attend(y, convOut, s, b);
        }
        yChannels = convOut;
      });
      x = push({ op: "add", inputs: [shortcut, y] });
      if (!spec.preact) x = relu(x);
      blocks.push({ stage: s, block: b, start, end: nodes.length, channels: outChannels });
      channels = outChannels;
    }
  });
  if (spec.preact) x = bnRelu(names.postBn, x, channels);

  const includeTop = options.includeTop ?? true;
  const pooling = includeTop ? "avg" : options.pooling;
  if (pooling) x = push({ op: "globalPool", input: x, kind: pooling, keepDims: false });
  if (includeTop) {
    const outFeatures = options.classes ?? spec.classes;
    x = push({ op: "dense", name: names.dense, input: x, inFeatures: channels, outFeatures });
  }
  return { nodes, output: x, stemEnd, blocks };
}

/**
 * The widths of a deep stem's first two convolutions (timm's `stem_width` is half the stem's
 * output): `deep` halves, `deepTiered` 3/8 then 1/2 of the stem width.
 *
 * @example
 * ```ts
 * import { getSpec } from "./presets.ts";
 * console.log(deepStemWidths(getSpec("resnet50d"))); // [ 32, 32 ]
 * ```
 */
export function deepStemWidths(spec: Pick<ResNetSpec, "stem" | "stemWidth">): [number, number] {
  const half = Math.floor(spec.stemWidth / 2);
  return spec.stem === "deepTiered" ? [3 * Math.floor(half / 4), half] : [half, half];
}

/**
 * The squeeze width of an SE module on `channels` channels: `channels / seReduction` rounded to
 * the nearest multiple of `seDivisor` (halves up), at least one multiple (timm's
 * `make_divisible(v, divisor, round_limit=0)`).
 *
 * @example
 * ```ts
 * import { getSpec } from "./presets.ts";
 * console.log(seChannels(getSpec("seresnet50"), 256), seChannels(getSpec("seresnet50"), 64)); // 16 8
 * ```
 */
export function seChannels(
  spec: Pick<ResNetSpec, "seReduction" | "seDivisor">,
  channels: number,
): number {
  const v = channels / spec.seReduction;
  const d = spec.seDivisor;
  return Math.max(d, Math.floor((v + d / 2) / d) * d);
}

/**
 * ECA's kernel for `channels` channels: t = ⌊(log2(channels) + 1) / 2⌋, made odd by adding one
 * when even, at least 3 (Wang et al. 2020 with γ = 2, b = 1, as timm computes it).
 *
 * @example
 * ```ts
 * console.log(ecaKernel(256), ecaKernel(2048)); // 5 7
 * ```
 */
export function ecaKernel(channels: number): number {
  const t = Math.floor(Math.abs(Math.log2(channels) + 1) / 2);
  return Math.max(t % 2 ? t : t + 1, 3);
}

/** A weight the plan expects, with its shape in the zoo layout (HWIO kernels, [in, out] dense). */
export interface WeightSlot {
  /** `layer/param`, e.g. `conv1/kernel`, `bn1/moving_variance`. */
  name: string;
  /** The layer that owns it. */
  layer: string;
  /** Which parameter of the layer. */
  param: "kernel" | "bias" | "gamma" | "beta" | "moving_mean" | "moving_variance";
  /** Zoo-layout shape. */
  shape: number[];
  /** Updated by training (false for BN moving statistics). */
  trainable: boolean;
}

/**
 * Every weight of a plan, layer by layer in execution order; each layer's parameters
 * in Keras order (kernel, bias; gamma, beta, moving_mean, moving_variance).
 *
 * @example
 * ```ts
 * import { getSpec } from "./presets.ts";
 * const slots = weightSlots(planResNet(getSpec("resnet18")));
 * console.log(slots[0]); // { name: "conv1/kernel", layer: "conv1", param: "kernel", shape: [7, 7, 3, 64], trainable: true }
 * ```
 */
export function weightSlots(plan: Plan): WeightSlot[] {
  const slots: WeightSlot[] = [];
  const add = (layer: string, param: WeightSlot["param"], shape: number[], trainable = true) =>
    slots.push({ name: `${layer}/${param}`, layer, param, shape, trainable });
  for (const node of plan.nodes) {
    if (node.op === "conv") {
      const kernelIn = node.inChannels / node.groups;
      add(node.name, "kernel", [node.kernel, node.kernel, kernelIn, node.outChannels]);
      if (node.bias) add(node.name, "bias", [node.outChannels]);
    } else if (node.op === "channelConv") {
      // Keras Conv1D layout [taps, in, out] of one filter over one channel.
      add(node.name, "kernel", [node.kernel, 1, 1]);
    } else if (node.op === "gn") {
      add(node.name, "gamma", [node.channels]);
      add(node.name, "beta", [node.channels]);
    } else if (node.op === "bn") {
      if (node.affine) {
        add(node.name, "gamma", [node.channels]);
        add(node.name, "beta", [node.channels]);
      }
      add(node.name, "moving_mean", [node.channels], false);
      add(node.name, "moving_variance", [node.channels], false);
    } else if (node.op === "dense") {
      add(node.name, "kernel", [node.inFeatures, node.outFeatures]);
      add(node.name, "bias", [node.outFeatures]);
    }
  }
  return slots;
}

/** Parameter counts as each framework reports them. */
export interface ParamCounts {
  /** Trainable parameters: PyTorch's `sum(p.numel() for p in model.parameters())`. */
  trainable: number;
  /** BN moving statistics. */
  nonTrainable: number;
  /** Everything: Keras' `model.count_params()`. */
  total: number;
}

/**
 * Counts the parameters of a plan.
 *
 * @example
 * ```ts
 * import { getSpec } from "./presets.ts";
 * console.log(countParams(planResNet(getSpec("resnet50"))).trainable); // 25557032
 * ```
 */
export function countParams(plan: Plan): ParamCounts {
  let trainable = 0;
  let nonTrainable = 0;
  for (const slot of weightSlots(plan)) {
    const size = slot.shape.reduce((a, b) => a * b, 1);
    if (slot.trainable) trainable += size;
    else nonTrainable += size;
  }
  return { trainable, nonTrainable, total: trainable + nonTrainable };
}
