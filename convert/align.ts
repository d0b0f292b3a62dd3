/**
 * Aligning a plan with a file: the weighted nodes of a plan (`arch/plan.ts`) are matched with
 * the layers a file lists ({@link SourceLayer}s) by kind and shape, part by part (stem, each
 * residual block, head), in the order the file's format lists a block's layers. This is how the
 * structure matcher tests a candidate spec, and how `--arch` checks a forced one.
 *
 * @example
 * ```ts
 * import { getSpec } from "../arch/presets.ts";
 * import { initialWeights } from "../arch/weights.ts";
 * import { planResNet } from "../arch/plan.ts";
 * import { alignSpec, PYTORCH_DEFAULTS, type SourceLayer } from "./align.ts";
 * const spec = getSpec("cifar_resnet20");
 * const plan = planResNet(spec);
 * const weights = initialWeights(plan);
 * // The plan's own conv, BatchNorm and dense layers, listed as a PyTorch file lists them.
 * const layers: SourceLayer[] = [];
 * for (const node of plan.nodes) {
 *   if (node.op !== "conv" && node.op !== "bn" && node.op !== "dense") continue;
 *   const get = (param: string) => weights.get(`${node.name}/${param}`);
 *   layers.push(
 *     node.op === "bn"
 *       ? { kind: "bn", name: node.name, weights: { moving_mean: get("moving_mean"), moving_variance: get("moving_variance") } }
 *       : { kind: node.op, name: node.name, weights: { kernel: get("kernel"), bias: get("bias") } },
 *   );
 * }
 * const fit = alignSpec(spec, layers, PYTORCH_DEFAULTS);
 * console.log("assigned" in fit ? fit.assigned.size : fit.message); // 39
 * ```
 *
 * @module
 */

import type { ResNetSpec } from "../arch/spec.ts";
import { type Plan, type PlanNode, type PlanOptions, planResNet } from "../arch/plan.ts";
import type { Weight } from "../arch/weights.ts";
import { KERAS_NAMES, type NamingScheme, TORCHVISION_NAMES } from "../arch/spec.ts";

/** A layer read from a source file, weights already in the zoo layout. */
export interface SourceLayer {
  /**
   * What the layer computes; `conv1d` is a 1-D convolution (ECA's, across channels), `gn` a
   * GroupNorm (a norm with a scale and shift but no moving statistics).
   */
  kind: "conv" | "bn" | "gn" | "dense" | "conv1d";
  /** Its name in the source file (for messages only). */
  name: string;
  /**
   * conv: `kernel` [kh,kw,in/groups,out], optional `bias`; conv1d: `kernel` [taps,in,out];
   * bn: `gamma`, `beta` (absent when non-affine), `moving_mean`, `moving_variance`;
   * gn: `gamma`, `beta`; dense: `kernel` [in,out], `bias`.
   */
  weights: Partial<
    Record<"kernel" | "bias" | "gamma" | "beta" | "moving_mean" | "moving_variance", Weight>
  >;
  /** Convolution stride, when the source graph records it. */
  stride?: number;
  /**
   * Convolution groups, when the source graph records them (a state dict's kernel implies them);
   * a GroupNorm's groups, when the graph records them (a state dict does not).
   */
  groups?: number;
  /** BatchNorm epsilon, when the source records it. */
  epsilon?: number;
  /**
   * A conv's weight-standardisation ε when the graph computes it (BiT's StdConv2d), 0 when the
   * graph uses the weight as it is; absent where the source cannot tell (a state dict).
   */
  standardize?: number;
  /**
   * Convolution zero padding `[top, left, bottom, right]`, when the graph records it; `"same"`
   * where it depends on the input size (TF's 'same' at a stride, which pads more at the end).
   */
  pads?: readonly [number, number, number, number] | "same";
  /** Convolution dilation `[height, width]`, when the graph records it. */
  dilation?: readonly [number, number];
  /**
   * Something the graph records about the layer that no zoo spec has (a non-square stride, a
   * scaled Gemm, a BatchNorm over another axis), in words; the layer then fits no plan node.
   */
  unsupported?: string;
}

/** What a format implies when its file cannot say (bare state_dicts and weights-only files carry no strides). */
export interface FormatDefaults {
  /** Stride placement in a bottleneck, for v1 and v2 nets, when strides are unknown. */
  strideConv: { v1: ResNetSpec["strideConv"]; v2: ResNetSpec["strideConv"] };
  /** Which block of a stage strides, for v1 and v2 nets, when strides are unknown. */
  strideBlock: { v1: ResNetSpec["strideBlock"]; v2: ResNetSpec["strideBlock"] };
  /** BatchNorm epsilon when the file does not record it. */
  bnEpsilon: number;
  /**
   * Whether a net with a deep stem pools before its strided projections when the file records no
   * strides: timm's ResNet-D (`resnet26d`, `resnet50d`, …) does, its rarer "C" does not.
   */
  avgDownWithDeepStem: boolean;
  /**
   * The weight-standardisation ε a GroupNorm net is taken to have when the file cannot show it
   * (a state dict): BiT's 1e-8, the GroupNorm ResNets people download; 0 for none.
   */
  groupNormStandardization: number;
  /** Names for an architecture that matches no preset. */
  naming: NamingScheme;
  /**
   * The file lists a block's shortcut layers before its main path (Keras builds the projection
   * first); else after it (PyTorch registers `downsample` last). This decides between layers of
   * the same shape, such as a bottleneck's last conv and its projection.
   */
  shortcutFirst: boolean;
}

/** PyTorch files: torchvision semantics (v1.5). */
export const PYTORCH_DEFAULTS: FormatDefaults = {
  strideConv: { v1: "3x3", v2: "3x3" },
  strideBlock: { v1: "first", v2: "first" },
  bnEpsilon: 1e-5,
  avgDownWithDeepStem: true,
  groupNormStandardization: 1e-8,
  naming: TORCHVISION_NAMES,
  shortcutFirst: false,
};

/** Keras files: Keras Applications semantics (v1 stride on the first 1×1, V2 on the last block). */
export const KERAS_DEFAULTS: FormatDefaults = {
  strideConv: { v1: "1x1", v2: "3x3" },
  strideBlock: { v1: "first", v2: "last" },
  bnEpsilon: 1.001e-5,
  avgDownWithDeepStem: true,
  groupNormStandardization: 0,
  naming: KERAS_NAMES,
  shortcutFirst: true,
};

/**
 * Where the file and a plan parted: the part of the file starting at `position` (a stem, block
 * or head) fits no candidate; `matched` layers of it did. Of several, the one that got furthest
 * is reported.
 */
export class Mismatch {
  /**
   * Records a mismatch.
   *
   * @example
   * ```ts
   * console.log(new Mismatch(3, "conv 'x' does not fit").position); // 3
   * ```
   */
  constructor(readonly position: number, readonly message: string, readonly matched = 0) {}

  /**
   * Whether this got further into the file than `other`.
   *
   * @example
   * ```ts
   * console.log(new Mismatch(3, "a").beats(new Mismatch(2, "b"))); // true
   * ```
   */
  beats(other: Mismatch | null): boolean {
    return !other || this.position > other.position ||
      (this.position === other.position && this.matched > other.matched);
  }
}

/** A conv's or dense layer's kernel shape. */
export const kernelShape = (layer: SourceLayer): number[] => layer.weights.kernel!.shape;
/** A BatchNorm's channel count. */
export const bnChannels = (layer: SourceLayer): number =>
  (layer.weights.moving_mean ?? layer.weights.gamma)!.shape[0];

/**
 * Whether a layer is the classifier: a dense layer, or a biased 1×1 conv right after a norm of
 * its input channels (timm's ResNet-V2 head, a conv on the pooled features).
 */
export function isClassifier(layers: SourceLayer[], index: number): boolean {
  const layer = layers[index];
  if (layer?.kind === "dense") return true;
  const norm = layers[index - 1];
  if (
    layer?.kind !== "conv" || !layer.weights.bias || (norm?.kind !== "bn" && norm?.kind !== "gn")
  ) {
    return false;
  }
  const [kh, kw, inChannels] = kernelShape(layer);
  return kh === 1 && kw === 1 && inChannels === bnChannels(norm);
}

/** A layer as messages name it, e.g. `conv 'conv1' (3×3, 3→16)`. */
export function describeLayer(layer: SourceLayer | undefined): string {
  if (!layer) return "the end of the file";
  if (layer.kind === "conv") {
    const [k, , i, o] = kernelShape(layer);
    const groups = layer.groups && layer.groups > 1 ? `, ${layer.groups} groups` : "";
    return `conv '${layer.name}' (${k}×${k}, ${i * (layer.groups ?? 1)}→${o}${groups})`;
  }
  if (layer.kind === "conv1d") return `1-D conv '${layer.name}' (${kernelShape(layer)[0]} taps)`;
  if (layer.kind === "bn") return `BatchNorm '${layer.name}' (${bnChannels(layer)} channels)`;
  if (layer.kind === "gn") return `GroupNorm '${layer.name}' (${bnChannels(layer)} channels)`;
  return `dense '${layer.name}' ([${kernelShape(layer)}])`;
}

function describeNode(node: PlanNode): string {
  switch (node.op) {
    case "conv": {
      const groups = node.groups > 1 ? ` in ${node.groups} groups` : "";
      return `a ${node.kernel}×${node.kernel} conv ${node.inChannels}→${node.outChannels}${groups}`;
    }
    case "channelConv":
      return `a 1-D conv of ${node.kernel} taps across ${node.channels} channels`;
    case "bn":
      return `a BatchNorm of ${node.channels} channels`;
    case "gn":
      return `a GroupNorm of ${node.channels} channels in ${node.groups} groups`;
    case "dense":
      return `a dense layer ${node.inFeatures}→${node.outFeatures}`;
    default:
      return node.op;
  }
}

/**
 * The plan of a candidate spec, or the reason it has none (a GroupNorm whose channels do not
 * divide into its groups), as a mismatch at `position`.
 */
export function planOrMismatch(
  spec: ResNetSpec,
  options: PlanOptions,
  position: number,
): Plan | Mismatch {
  try {
    return planResNet(spec, options);
  } catch (error) {
    if (error instanceof RangeError) return new Mismatch(position, error.message);
    throw error;
  }
}

/** Whether a source layer has the kind and shape of a plan node (biases and strides aside). */
function fits(node: PlanNode, layer: SourceLayer): boolean {
  switch (node.op) {
    case "conv": {
      if (layer.kind !== "conv" || (layer.groups ?? node.groups) !== node.groups) return false;
      const [kh, kw, i, o] = kernelShape(layer);
      return kh === node.kernel && kw === node.kernel && i === node.inChannels / node.groups &&
        o === node.outChannels;
    }
    case "channelConv": {
      if (layer.kind !== "conv1d") return false;
      const [taps, i, o] = kernelShape(layer);
      return taps === node.kernel && i === 1 && o === 1;
    }
    case "bn":
      return layer.kind === "bn" && bnChannels(layer) === node.channels;
    case "gn":
      return layer.kind === "gn" && bnChannels(layer) === node.channels &&
        (layer.groups ?? node.groups) === node.groups;
    case "dense": {
      if (layer.kind !== "dense" && layer.kind !== "conv") return false;
      // A classifier conv's kernel [1, 1, in, out] reads as [in, out] after its 1×1.
      const shape = kernelShape(layer);
      const [i, o] = layer.kind === "dense" ? shape : shape.slice(2);
      const conv1x1 = layer.kind === "conv" && shape[0] === 1 && shape[1] === 1;
      return (layer.kind === "dense" || conv1x1) && i === node.inFeatures && o === node.outFeatures;
    }
    default:
      return false;
  }
}

/** The nodes of a block only its shortcut reads (a projection and its BatchNorm). */
export function shortcutOnly(plan: Plan, start: number, end: number): Set<number> {
  const ancestors = (from: number): Set<number> => {
    const found = new Set<number>();
    const stack = [from];
    while (stack.length) {
      const n = stack.pop()!;
      if (n < start || found.has(n)) continue;
      found.add(n);
      const node = plan.nodes[n];
      if ("inputs" in node) stack.push(...node.inputs);
      else if (node.op !== "input") stack.push(node.input);
    }
    return found;
  };
  const add = plan.nodes.slice(start, end).findLast((n) => n.op === "add");
  const only = new Set<number>();
  if (add?.op === "add") {
    const main = ancestors(add.inputs[1]);
    for (const n of ancestors(add.inputs[0])) if (!main.has(n)) only.add(n);
  }
  return only;
}

/**
 * The weighted nodes of `nodes[start, end)` in the order a file of this format lists them. Nodes
 * only the shortcut reads come first or last as the format does; the rest keep the plan's order.
 * A BN-folded file has no BatchNorms to list.
 */
export function fileOrder(
  plan: Plan,
  start: number,
  end: number,
  shortcutFirst: boolean,
  bnFolded: boolean,
): number[] {
  const shortcut = shortcutOnly(plan, start, end);
  const weighted = Array.from({ length: end - start }, (_, k) => start + k).filter((n) => {
    const op = plan.nodes[n].op;
    return op === "conv" || op === "dense" || op === "channelConv" || op === "gn" ||
      (op === "bn" && !bnFolded);
  });
  const first = weighted.filter((n) => shortcut.has(n) === shortcutFirst);
  const second = weighted.filter((n) => shortcut.has(n) !== shortcutFirst);
  return [...first, ...second];
}

/**
 * Aligns the nodes `expected` (in file order) with the layers starting at `position`: each node
 * takes the unused layer of its kind and shape nearest its own place, a norm the first one after
 * its conv's layer.
 * Returns the assignment, or the mismatch.
 */
export function alignWindow(
  plan: Plan,
  expected: number[],
  layers: SourceLayer[],
  position: number,
): Map<number, SourceLayer> | Mismatch {
  const window = layers.slice(position, position + expected.length);
  const taken = new Map<number, number>();
  const used = new Set<number>();
  for (const [place, n] of expected.entries()) {
    const node = plan.nodes[n];
    const norm = node.op === "bn" || node.op === "gn";
    const producer = norm ? taken.get(node.input) : undefined;
    // A norm takes the first fitting layer after its conv's. Of the other layers that fit, the one
    // nearest the node's place in the format's order: equally shaped layers (a projection and a
    // bottleneck's last conv, an SE expand) keep their order whether a file lists the shortcut
    // before or after the main path.
    let k = -1;
    window.forEach((layer, j) => {
      if (used.has(j) || !fits(node, layer) || (producer !== undefined && j <= producer)) return;
      if (k < 0 || (!norm && Math.abs(j - place) < Math.abs(k - place))) k = j;
    });
    if (k < 0) {
      const after = producer === undefined ? "" : ` after ${describeLayer(window[producer])}`;
      return new Mismatch(
        position,
        `${describeLayer(layers[position])} at position ${position} does not fit: expected ${
          describeNode(node)
        }${after}`,
        used.size,
      );
    }
    used.add(k);
    taken.set(n, k);
  }
  return new Map([...taken].map(([n, k]) => [n, window[k]]));
}

/** A spec whose plan the file fills: which layer fills which of the plan's nodes. */
export interface Fit {
  /** The spec. */
  spec: ResNetSpec;
  /** Its plan (with a head when the file has a classifier). */
  plan: Plan;
  /** Plan node index → the file's layer. */
  assigned: Map<number, SourceLayer>;
}

/**
 * Aligns a spec's whole plan with the file's layers, part by part; the plan has a head when the
 * file ends in a dense layer.
 */
export function alignSpec(
  spec: ResNetSpec,
  layers: SourceLayer[],
  defaults: FormatDefaults,
): Fit | Mismatch {
  const bnFolded = !layers.some((l) => l.kind === "bn");
  const dense = isClassifier(layers, layers.length - 1);
  const plan = planOrMismatch(spec, { includeTop: dense }, 0);
  if (plan instanceof Mismatch) return plan;
  const parts = [
    [1, plan.stemEnd],
    ...plan.blocks.map((b) => [b.start, b.end]),
    [plan.blocks[plan.blocks.length - 1]?.end ?? plan.stemEnd, plan.nodes.length],
  ];
  const assigned = new Map<number, SourceLayer>();
  let position = 0;
  for (const [start, end] of parts) {
    const expected = fileOrder(plan, start, end, defaults.shortcutFirst, bnFolded);
    const fit = alignWindow(plan, expected, layers, position);
    if (fit instanceof Mismatch) return fit;
    fit.forEach((layer, n) => assigned.set(n, layer));
    position += fit.size;
  }
  if (position !== layers.length) {
    return new Mismatch(
      position,
      `${
        describeLayer(layers[position])
      } at position ${position} does not fit: expected no more layers`,
    );
  }
  return { spec, plan, assigned };
}

/** Whether the fit's plan ends in a classifier (the file has one). */
export const hasHead = (fit: Fit): boolean => fit.plan.nodes.some((n) => n.op === "dense");

/** Whether a BatchNorm reads the conv's output directly (a conv bias there folds into its mean). */
export function feedsBatchNorm(plan: Plan, conv: number): boolean {
  return plan.nodes.some((n) => n.op === "bn" && n.input === conv);
}
