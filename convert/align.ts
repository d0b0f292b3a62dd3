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
import { type Plan, type PlanNode, planResNet } from "../arch/plan.ts";
import type { Weight } from "../arch/weights.ts";
import { KERAS_NAMES, type NamingScheme, TORCHVISION_NAMES } from "../arch/spec.ts";

/** A layer read from a source file, weights already in the zoo layout. */
export interface SourceLayer {
  /** What the layer computes. */
  kind: "conv" | "bn" | "dense";
  /** Its name in the source file (for messages only). */
  name: string;
  /** conv: `kernel` [kh,kw,in,out], optional `bias`; bn: `gamma`, `beta` (absent when non-affine), `moving_mean`, `moving_variance`; dense: `kernel` [in,out], `bias`. */
  weights: Partial<
    Record<"kernel" | "bias" | "gamma" | "beta" | "moving_mean" | "moving_variance", Weight>
  >;
  /** Convolution stride, when the source graph records it. */
  stride?: number;
  /** BatchNorm epsilon, when the source records it. */
  epsilon?: number;
  /**
   * Convolution zero padding `[top, left, bottom, right]`, when the graph records it; `"same"`
   * where it depends on the input size (TF's 'same' at a stride, which pads more at the end).
   */
  pads?: readonly [number, number, number, number] | "same";
  /** Convolution dilation `[height, width]`, when the graph records it. */
  dilation?: readonly [number, number];
  /** Convolution groups, when the graph records it. */
  groups?: number;
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
  naming: TORCHVISION_NAMES,
  shortcutFirst: false,
};

/** Keras files: Keras Applications semantics (v1 stride on the first 1×1, V2 on the last block). */
export const KERAS_DEFAULTS: FormatDefaults = {
  strideConv: { v1: "1x1", v2: "3x3" },
  strideBlock: { v1: "first", v2: "last" },
  bnEpsilon: 1.001e-5,
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
export const bnChannels = (layer: SourceLayer): number => layer.weights.moving_mean!.shape[0];

/** A layer as messages name it, e.g. `conv 'conv1' (3×3, 3→16)`. */
export function describeLayer(layer: SourceLayer | undefined): string {
  if (!layer) return "the end of the file";
  if (layer.kind === "conv") {
    const [k, , i, o] = kernelShape(layer);
    return `conv '${layer.name}' (${k}×${k}, ${i}→${o})`;
  }
  if (layer.kind === "bn") return `BatchNorm '${layer.name}' (${bnChannels(layer)} channels)`;
  return `dense '${layer.name}' ([${kernelShape(layer)}])`;
}

function describeNode(node: PlanNode): string {
  switch (node.op) {
    case "conv":
      return `a ${node.kernel}×${node.kernel} conv ${node.inChannels}→${node.outChannels}`;
    case "bn":
      return `a BatchNorm of ${node.channels} channels`;
    case "dense":
      return `a dense layer ${node.inFeatures}→${node.outFeatures}`;
    default:
      return node.op;
  }
}

/** Whether a source layer has the kind and shape of a plan node (biases and strides aside). */
function fits(node: PlanNode, layer: SourceLayer): boolean {
  switch (node.op) {
    case "conv": {
      if (layer.kind !== "conv") return false;
      const [kh, kw, i, o] = kernelShape(layer);
      return kh === node.kernel && kw === node.kernel && i === node.inChannels &&
        o === node.outChannels;
    }
    case "bn":
      return layer.kind === "bn" && bnChannels(layer) === node.channels;
    case "dense": {
      if (layer.kind !== "dense") return false;
      const [i, o] = kernelShape(layer);
      return i === node.inFeatures && o === node.outFeatures;
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
      if (node.op === "add") stack.push(...node.inputs);
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
    return op === "conv" || op === "dense" || (op === "bn" && !bnFolded);
  });
  const first = weighted.filter((n) => shortcut.has(n) === shortcutFirst);
  const second = weighted.filter((n) => shortcut.has(n) !== shortcutFirst);
  return [...first, ...second];
}

/**
 * Aligns the nodes `expected` (in file order) with the layers starting at `position`: each node
 * takes the first unused layer of its kind and shape, a BatchNorm one after its conv's layer.
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
  for (const n of expected) {
    const node = plan.nodes[n];
    const producer = node.op === "bn" ? taken.get(node.input) : undefined;
    const k = window.findIndex((layer, k) =>
      !used.has(k) && fits(node, layer) && (producer === undefined || k > producer)
    );
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
  const dense = layers[layers.length - 1]?.kind === "dense";
  const plan = planResNet(spec, { includeTop: dense });
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
