/**
 * The operations a plan is made of ({@link PlanNode}): what `arch/plan.ts` lowers a spec to and
 * every builder (folded inference, LayersModel, ONNX export) implements. Each node reads earlier
 * nodes by index; weighted nodes carry the layer name their weights are stored under.
 *
 * @example
 * ```ts
 * import type { ConvNode } from "./nodes.ts";
 * const stem: ConvNode = {
 *   op: "conv", name: "conv1", input: 0, kernel: 7, stride: 2, pad: 3,
 *   inChannels: 3, outChannels: 64, groups: 1, standardize: 0, bias: false,
 * };
 * console.log(stem.kernel * stem.kernel * stem.inChannels * stem.outChannels); // 9408
 * ```
 *
 * @module
 */

import type { ResNetSpec } from "./spec.ts";

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
  /** Channel groups (ResNeXt); the kernel has `inChannels / groups` input channels. */
  groups: number;
  /** Weight standardisation ε (BiT's `StdConv2d`); 0: the kernel is used as stored. */
  standardize: number;
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

/**
 * GroupNorm (Wu & He 2018): each image's channels in `groups` groups, each group normalised over
 * its channels and all pixels, then a learned per-channel scale (gamma) and shift (beta). It has
 * no moving statistics, so nothing folds.
 */
export interface GroupNormNode {
  /** Node kind. */
  op: "gn";
  /** Layer name. */
  name: string;
  /** Index of the node it reads. */
  input: number;
  /** Channels normalised. */
  channels: number;
  /** Groups; `channels` divides by it. */
  groups: number;
  /** Variance epsilon. */
  epsilon: number;
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
  /** Layer name (it has no weights). */
  name: string;
  /** Index of the node it reads. */
  input: number;
  /** Window size. */
  size: number;
  /** Stride. */
  stride: number;
  /** Explicit zero pad of 1 (Keras; PyTorch's after a ReLU) or TF 'same'. */
  padding: "zeros" | "same";
}

/**
 * Mean of `size`×`size` windows at `stride`, in ceil mode: a window overhanging the border
 * averages only the pixels it covers (PyTorch `AvgPool2d(ceil_mode=True,
 * count_include_pad=False)`, TF's 'same' average pool at size = stride). The pool before an
 * `avgDown` projection.
 */
export interface AvgPoolNode {
  /** Node kind. */
  op: "avgpool";
  /** Index of the node it reads. */
  input: number;
  /** Window size. */
  size: number;
  /** Stride. */
  stride: number;
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
  /** Keep the pooled height and width as 1×1 (the squeeze of an attention module); else `[N, C]`. */
  keepDims: boolean;
}

/** The logistic sigmoid: an attention module's gate. */
export interface SigmoidNode {
  /** Node kind. */
  op: "sigmoid";
  /** Index of the node it reads. */
  input: number;
}

/** A feature map times a per-channel gate (`[N, 1, 1, C]`, broadcast over height and width). */
export interface MulNode {
  /** Node kind. */
  op: "mul";
  /** Indices of the feature map and the gate. */
  inputs: [number, number];
}

/**
 * ECA's 1-D convolution across the channels of a pooled `[N, 1, 1, C]` vector: one filter of
 * `kernel` taps, no bias, zero padding `(kernel - 1) / 2` at both ends of the channel axis.
 */
export interface ChannelConvNode {
  /** Node kind. */
  op: "channelConv";
  /** Layer name. */
  name: string;
  /** Index of the node it reads. */
  input: number;
  /** Channels of the vector. */
  channels: number;
  /** Odd number of taps. */
  kernel: number;
}

/** One operation of a plan. `input`/`inputs` index earlier nodes. */
export type PlanNode =
  | InputNode
  | ConvNode
  | BatchNormNode
  | GroupNormNode
  | ReluNode
  | MaxPoolNode
  | AvgPoolNode
  | SubsampleNode
  | PadChannelsNode
  | AddNode
  | GlobalPoolNode
  | SigmoidNode
  | MulNode
  | ChannelConvNode
  | DenseNode;
