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

/** A convolution, always with symmetric zero padding `pad` (PyTorch/ONNX semantics). */
export interface ConvNode {
  /** Node kind. */
  op: "conv";
  /** Layer name (the weight-file contract). */
  name: string;
  /** Index of the node it reads. */
  input: number;
  /** Square kernel size. */
  kernel: number;
  /** Stride in both directions. */
  stride: number;
  /** Zero padding on every side. */
  pad: number;
  /** Input channels. */
  inChannels: number;
  /** Output channels. */
  outChannels: number;
  /** Whether the conv has a bias. */
  bias: boolean;
}

/** Inference-mode BatchNorm; `affine: false` has no gamma/beta (Gluon's input BN). */
export interface BatchNormNode {
  /** Node kind. */
  op: "bn";
  /** Layer name. */
  name: string;
  /** Index of the node it reads. */
  input: number;
  /** Channels normalised. */
  channels: number;
  /** Variance epsilon. */
  epsilon: number;
  /** Has a learned scale (gamma) and shift (beta). */
  affine: boolean;
}

/** A fully connected layer over pooled features. */
export interface DenseNode {
  /** Node kind. */
  op: "dense";
  /** Layer name. */
  name: string;
  /** Index of the node it reads. */
  input: number;
  /** Input features. */
  inFeatures: number;
  /** Output features (classes). */
  outFeatures: number;
}

/** The network input (NHWC inside the zoo). */
export interface InputNode {
  /** Node kind. */
  op: "input";
  /** Input channels. */
  channels: number;
}

/** A ReLU. */
export interface ReluNode {
  /** Node kind. */
  op: "relu";
  /** Index of the node it reads. */
  input: number;
}

/** The stem max-pool. */
export interface MaxPoolNode {
  /** Node kind. */
  op: "maxpool";
  /** Index of the node it reads. */
  input: number;
  /** Window size. */
  size: number;
  /** Stride. */
  stride: number;
  /** Explicit zero pad of 1 (Keras; PyTorch's after a ReLU) or TF 'same'. */
  padding: "zeros" | "same";
}

/** The identity shortcut of a strided block: every `stride`-th pixel, or window averages. */
export interface SubsampleNode {
  /** Node kind. */
  op: "subsample";
  /** Index of the node it reads. */
  input: number;
  /** Step in both directions. */
  stride: number;
  /** Every `stride`-th pixel, or the mean of each `stride`×`stride` window (no padding). */
  mode: ResNetSpec["shortcutSubsample"];
}

/** Zero channels added before and after the existing ones (option-A shortcuts). */
export interface PadChannelsNode {
  /** Node kind. */
  op: "padChannels";
  /** Index of the node it reads. */
  input: number;
  /** Zero channels before the existing ones. */
  before: number;
  /** Zero channels after the existing ones. */
  after: number;
}

/** The residual sum. */
export interface AddNode {
  /** Node kind. */
  op: "add";
  /** Indices of the shortcut and the main path. */
  inputs: [number, number];
}

/** Global spatial pooling to one vector per image. */
export interface GlobalPoolNode {
  /** Node kind. */
  op: "globalPool";
  /** Index of the node it reads. */
  input: number;
  /** Average or maximum. */
  kind: "avg" | "max";
}

/** One operation of a plan. `input`/`inputs` index earlier nodes. */
export type PlanNode =
  | InputNode
  | ConvNode
  | BatchNormNode
  | ReluNode
  | MaxPoolNode
  | SubsampleNode
  | PadChannelsNode
  | AddNode
  | GlobalPoolNode
  | DenseNode;

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
      bias: followedByBn ? biasBeforeBn : biasElsewhere,
    });
  const bn = (name: string, input: number, channels: number, affine = true): number =>
    push({ op: "bn", name, input, channels, epsilon: spec.bnEpsilon, affine });
  const relu = (input: number): number => push({ op: "relu", input });
  const bnRelu = (name: string, input: number, channels: number): number =>
    relu(bn(name, input, channels));

  let x = 0;
  if (spec.inputBn) x = bn(names.inputBn, x, 3, false);
  const imagenet = spec.stem === "imagenet";
  x = conv(names.stemConv, x, 3, spec.stemWidth, imagenet ? 7 : 3, imagenet ? 2 : 1, spec.stemNorm);
  if (spec.stemNorm) x = bnRelu(names.stemBn, x, spec.stemWidth);
  if (imagenet) {
    x = push({ op: "maxpool", input: x, size: 3, stride: 2, padding: spec.poolPadding });
  }

  const stemEnd = nodes.length;
  const blocks: PlanBlock[] = [];
  let channels = spec.stemWidth;
  spec.depths.forEach((depth, s) => {
    const width = spec.widths[s];
    const outChannels = width * spec.expansion;
    for (let b = 0; b < depth; b++) {
      const strideBlock = spec.strideBlock === "first" ? 0 : depth - 1;
      const stride = b === strideBlock ? spec.stageStrides[s] : 1;
      const name = (template: string, i = 0) => layerName(template, s, b, i);
      const start = nodes.length;
      const blockInput = x;
      const mainInput = spec.preact ? bnRelu(name(names.preactBn), x, channels) : x;

      let shortcut = blockInput;
      if (channels !== outChannels && spec.shortcut === "projection") {
        shortcut = conv(
          name(names.shortcutConv),
          mainInput,
          channels,
          outChannels,
          1,
          stride,
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
      const strideAt = spec.block === "basic" || spec.strideConv === "3x3" ? kernels.indexOf(3) : 0;
      let y = mainInput;
      let yChannels = channels;
      kernels.forEach((kernel, i) => {
        const last = i === kernels.length - 1;
        const convOut = last ? outChannels : width;
        const normalised = !spec.preact || !last;
        y = conv(
          name(names.conv, i + 1),
          y,
          yChannels,
          convOut,
          kernel,
          i === strideAt ? stride : 1,
          normalised,
        );
        if (normalised) y = bn(name(names.bn, i + 1), y, convOut);
        if (!last) y = relu(y);
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
  if (pooling) x = push({ op: "globalPool", input: x, kind: pooling });
  if (includeTop) {
    const outFeatures = options.classes ?? spec.classes;
    x = push({ op: "dense", name: names.dense, input: x, inFeatures: channels, outFeatures });
  }
  return { nodes, output: x, stemEnd, blocks };
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
      add(node.name, "kernel", [node.kernel, node.kernel, node.inChannels, node.outChannels]);
      if (node.bias) add(node.name, "bias", [node.outChannels]);
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
