/**
 * BatchNorm folding: the arithmetic that turns an inference-mode BatchNorm into a per-channel
 * scale and shift, and folds it into the convolution before it. The tfjs inference path and the
 * ONNX exporter both fold with it, so they compute the same numbers.
 *
 * @example
 * ```ts
 * import { getSpec } from "./presets.ts";
 * import { planResNet } from "./plan.ts";
 * import { initialWeights } from "./weights.ts";
 * import { foldBatchNorm } from "./fold.ts";
 * const plan = planResNet(getSpec("cifar_resnet20"));
 * const weights = initialWeights(plan, 1);
 * const [conv, bn] = plan.nodes.slice(1, 3);
 * if (conv.op === "conv" && bn.op === "bn") {
 *   const { kernel, bias } = foldBatchNorm(conv, bn, weights);
 *   console.log(kernel.length, bias.length); // 432 16
 * }
 * ```
 *
 * @module
 */

import type { BatchNormNode, ConvNode } from "./plan.ts";
import type { WeightMap } from "./weights.ts";

/** The data of a named weight; a missing one is named. */
export function weightData(weights: WeightMap, name: string): Float32Array {
  const w = weights.get(name);
  if (!w) throw new Error(`missing tensor '${name}'`);
  return w.data;
}

/** Per-channel `scale`, `shift` with bn(x) = x·scale + shift. */
export function batchNormAffine(
  node: BatchNormNode,
  weights: WeightMap,
): { scale: Float32Array; shift: Float32Array } {
  const mean = weightData(weights, `${node.name}/moving_mean`);
  const variance = weightData(weights, `${node.name}/moving_variance`);
  const gamma = node.affine ? weightData(weights, `${node.name}/gamma`) : null;
  const beta = node.affine ? weightData(weights, `${node.name}/beta`) : null;
  const scale = new Float32Array(node.channels);
  const shift = new Float32Array(node.channels);
  for (let c = 0; c < node.channels; c++) {
    scale[c] = (gamma ? gamma[c] : 1) / Math.sqrt(variance[c] + node.epsilon);
    shift[c] = (beta ? beta[c] : 0) - mean[c] * scale[c];
  }
  return { scale, shift };
}

/**
 * A conv's kernel as it is applied: as stored, or weight-standardised when the conv asks for it
 * (each output channel's weights minus their mean, over the square root of their biased
 * variance plus ε, as PyTorch's `batch_norm(training=True)` over them computes it). A copy.
 *
 * @example
 * ```ts
 * import type { ConvNode } from "./plan.ts";
 * const conv: ConvNode = {
 *   op: "conv", name: "c", input: 0, kernel: 1, stride: 1, pad: 0,
 *   inChannels: 2, outChannels: 1, groups: 1, standardize: 1e-8, bias: false,
 * };
 * const weights = new Map([["c/kernel", { shape: [1, 1, 2, 1], data: new Float32Array([1, 3]) }]]);
 * console.log(Array.from(appliedKernel(conv, weights))); // [ -1, 1 ]
 * ```
 */
export function appliedKernel(conv: ConvNode, weights: WeightMap): Float32Array {
  const kernel = weightData(weights, `${conv.name}/kernel`).slice();
  if (!conv.standardize) return kernel;
  const out = conv.outChannels;
  const perChannel = kernel.length / out;
  for (let o = 0; o < out; o++) {
    let sum = 0;
    for (let i = o; i < kernel.length; i += out) sum += kernel[i];
    const mean = sum / perChannel;
    let squares = 0;
    for (let i = o; i < kernel.length; i += out) squares += (kernel[i] - mean) ** 2;
    const scale = 1 / Math.sqrt(squares / perChannel + conv.standardize);
    for (let i = o; i < kernel.length; i += out) kernel[i] = (kernel[i] - mean) * scale;
  }
  return kernel;
}

/**
 * Folds a BatchNorm into the convolution before it: W'[..., o] = W[..., o]·scale[o],
 * b' = b·scale + shift, W being the {@link appliedKernel}. With no BN, returns that kernel and
 * the conv's bias (zeros if none).
 *
 * @example
 * ```ts
 * // See compileInference; foldBatchNorm is exported for converters that write folded graphs.
 * ```
 */
export function foldBatchNorm(
  conv: ConvNode,
  bn: BatchNormNode | null,
  weights: WeightMap,
): { kernel: Float32Array; bias: Float32Array } {
  const kernel = appliedKernel(conv, weights);
  const bias = conv.bias
    ? weightData(weights, `${conv.name}/bias`).slice()
    : new Float32Array(conv.outChannels);
  if (!bn) return { kernel, bias };
  const { scale, shift } = batchNormAffine(bn, weights);
  const out = conv.outChannels;
  for (let i = 0; i < kernel.length; i++) kernel[i] *= scale[i % out];
  for (let o = 0; o < out; o++) bias[o] = bias[o] * scale[o] + shift[o];
  return { kernel, bias };
}
