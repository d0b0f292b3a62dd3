/**
 * A ResNet as a multi-scale backbone (timm's `features_only`, torchvision's
 * `create_feature_extractor`): the stem's and each stage's output maps, read off the plan's
 * block ranges. Feature 0 is the stem, feature s the output of stage s; each has its channels
 * and reduction (the input's size divided by the map's), as timm's `feature_info` reports.
 *
 * @example
 * ```ts
 * import { getSpec } from "./presets.ts";
 * import { planFeatures } from "./features.ts";
 * const plan = planFeatures(getSpec("resnet50"));
 * console.log(plan.featureInfo.map((f) => `${f.module} ${f.channels}/${f.reduction}`));
 * // [ "stage1 256/4", "stage2 512/8", "stage3 1024/16", "stage4 2048/32" ]
 * ```
 *
 * @module
 */

import type { ResNetSpec } from "./spec.ts";
import { type Plan, planResNet } from "./plan.ts";

/**
 * One feature map a backbone can return.
 *
 * @example
 * ```ts
 * import { getSpec } from "./presets.ts";
 * import { type FeatureInfo, featureCandidates } from "./features.ts";
 * import { planResNet } from "./plan.ts";
 * const [stem]: FeatureInfo[] = featureCandidates(planResNet(getSpec("resnet18"), { includeTop: false }));
 * console.log(stem.module, stem.channels, stem.reduction); // stem 64 2
 * ```
 */
export interface FeatureInfo {
  /** Index among the model's features: 0 the stem, s the output of stage s (timm's `out_indices`). */
  index: number;
  /** `stem`, `stage1`, `stage2`, …: what produces the map. */
  module: string;
  /** Channels of the map. */
  channels: number;
  /** Input size ÷ map size (timm's `reduction`): 4/8/16/32 for ImageNet stages, 1/2/4 for CIFAR. */
  reduction: number;
  /** The plan node whose value is the map. */
  node: number;
}

/**
 * Which feature maps to return.
 *
 * @example
 * ```ts
 * import { getSpec } from "./presets.ts";
 * import { type FeatureOptions, planFeatures } from "./features.ts";
 * const options: FeatureOptions = { outIndices: [0, 2] };
 * console.log(planFeatures(getSpec("cifar_resnet20"), options).featureInfo.map((f) => f.module)); // [ "stem", "stage2" ]
 * ```
 */
export interface FeatureOptions {
  /**
   * Feature indices in increasing order: 0 the stem, 1… the stages. Default: every stage
   * (timm's default also includes the stem, index 0).
   */
  outIndices?: number[];
}

/**
 * A plan that returns feature maps (`outputs`, in the order of `featureInfo`), cut after the
 * last map asked for.
 *
 * @example
 * ```ts
 * import { getSpec } from "./presets.ts";
 * import { type FeaturePlan, planFeatures } from "./features.ts";
 * const plan: FeaturePlan = planFeatures(getSpec("resnet18"), { outIndices: [1, 2] });
 * console.log(plan.outputs.length, plan.blocks.length); // 2 4
 * ```
 */
export interface FeaturePlan extends Plan {
  /** The nodes of the maps, in the order of {@link FeaturePlan.featureInfo}. */
  outputs: number[];
  /** What each map is. */
  featureInfo: FeatureInfo[];
}

/** Input size ÷ output size of every node of a plan. */
function reductions(plan: Plan): number[] {
  const result: number[] = [];
  for (const node of plan.nodes) {
    if (node.op === "input") result.push(1);
    else if ("inputs" in node) result.push(result[node.inputs[0]]); // an add, an attention gate
    else {
      const stride = "stride" in node ? node.stride : 1;
      result.push(result[node.input] * stride);
    }
  }
  return result;
}

/**
 * Every feature map a headless plan (no pooling, no classifier) can return: the stem's (before
 * its max-pool, as timm's `act1`) and each stage's. The last stage's map is the plan's result,
 * so a pre-activation net's last map is taken after its final BatchNorm and ReLU (timm's
 * `norm`); its other stages end at their last residual sum.
 *
 * @example
 * ```ts
 * import { getSpec } from "./presets.ts";
 * import { planResNet } from "./plan.ts";
 * const all = featureCandidates(planResNet(getSpec("cifar_resnet20"), { includeTop: false }));
 * console.log(all.map((f) => [f.channels, f.reduction])); // [ [ 16, 1 ], [ 16, 1 ], [ 32, 2 ], [ 64, 4 ] ]
 * ```
 */
export function featureCandidates(plan: Plan): FeatureInfo[] {
  const last = plan.nodes[plan.output];
  if (last.op === "globalPool" || last.op === "dense") {
    throw new RangeError("feature maps come from a plan without pooling or classifier");
  }
  const reduction = reductions(plan);
  const channels = (node: number): number => {
    const n = plan.nodes[node];
    switch (n.op) {
      case "input":
      case "bn":
      case "gn":
      case "channelConv":
        return n.channels;
      case "conv":
        return n.outChannels;
      case "dense":
        return n.outFeatures;
      case "padChannels":
        return channels(n.input) + n.before + n.after;
      case "add":
        return channels(n.inputs[1]); // the main path
      case "mul":
        return channels(n.inputs[0]); // the gated map
      default:
        return channels(n.input);
    }
  };
  const stemLast = plan.stemEnd - 1;
  const stem = plan.nodes[stemLast].op === "maxpool" ? stemLast - 1 : stemLast;
  const nodes = [stem];
  const stages = Math.max(...plan.blocks.map((b) => b.stage)) + 1;
  for (let s = 0; s < stages; s++) {
    const blocks = plan.blocks.filter((b) => b.stage === s);
    nodes.push(s === stages - 1 ? plan.output : blocks[blocks.length - 1].end - 1);
  }
  return nodes.map((node, index) => ({
    index,
    module: index === 0 ? "stem" : `stage${index}`,
    channels: channels(node),
    reduction: reduction[node],
    node,
  }));
}

/**
 * The plan of a backbone that returns feature maps: the headless plan, cut after the last map
 * asked for, with those maps as its outputs.
 *
 * @throws {RangeError} For indices that are not increasing feature indices of the spec.
 *
 * @example
 * ```ts
 * import { getSpec } from "./presets.ts";
 * const plan = planFeatures(getSpec("cifar_resnet20"));
 * console.log(plan.featureInfo.map((f) => f.channels)); // [ 16, 32, 64 ]
 * ```
 */
export function planFeatures(spec: ResNetSpec, options: FeatureOptions = {}): FeaturePlan {
  const full = planResNet(spec, { includeTop: false });
  const candidates = featureCandidates(full);
  const wanted = options.outIndices ?? candidates.slice(1).map((f) => f.index);
  const valid = wanted.length > 0 &&
    wanted.every((i, k) =>
      Number.isInteger(i) && i >= 0 && i < candidates.length && (k === 0 || i > wanted[k - 1])
    );
  if (!valid) {
    throw new RangeError(
      `outIndices must be increasing feature indices from 0 (stem) to ${
        candidates.length - 1
      } (stage${candidates.length - 1}), got [${wanted}]`,
    );
  }
  const featureInfo = wanted.map((i) => candidates[i]);
  const outputs = featureInfo.map((f) => f.node);
  const end = outputs[outputs.length - 1] + 1;
  return {
    nodes: full.nodes.slice(0, end),
    output: end - 1,
    stemEnd: full.stemEnd,
    blocks: full.blocks.filter((b) => b.end <= end),
    outputs,
    featureInfo,
  };
}
