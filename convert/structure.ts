/**
 * Recognises a ResNet by structure. Every importer turns its file into an ordered list of
 * {@link SourceLayer}s (convs, BatchNorms, denses with zoo-layout weights); this module finds the
 * {@link ResNetSpec} whose plan (`arch/plan.ts`) those layers fill, and fills the zoo weight map.
 *
 * The block rules — which convs a block has, which carry a BatchNorm, where the projection sits,
 * what a pre-activation block normalises — are the plan's alone: for each hypothesis about the
 * spec's discrete fields, a candidate spec is grown block by block, and each new block's weighted
 * nodes, read off the candidate's plan, are aligned against the next layers of the file by kind
 * and shape (never by name). A graph file is then checked operation by operation against the
 * matched plan (`source_graph.ts`). What a weights-only file cannot tell (stride placement,
 * option-A shortcuts) takes a convention and is reported in {@link InferredResNet.assumptions}.
 *
 * @example
 * ```ts
 * import { importFile } from "./import.ts";
 * // importFile reads the file, lists its layers and calls inferResNet.
 * const { spec } = await importFile("testdata/cifar10-resnet/resnet20-12fca82f.th");
 * console.log(spec.name, spec.depths); // cifar_resnet20 [ 3, 3, 3 ]
 * ```
 *
 * @module
 */

import {
  CIFAR_NAMES,
  OPTION_A_CONVENTION,
  type ResNetSpec,
  SPEC_CHOICES,
  SPEC_DEFAULTS,
  TORCHVISION_NAMES,
} from "../arch/spec.ts";
import { PRESETS } from "../arch/presets.ts";
import { planResNet } from "../arch/plan.ts";
import { grow, plausibleHypotheses, type StemCache } from "./grow.ts";
import { checkWeights, type WeightMap } from "../arch/weights.ts";
import { NotZooResNetError, ZooFormatError } from "../arch/errors.ts";
import { identityBatchNorm } from "./layout.ts";
import {
  alignSpec,
  describeLayer,
  feedsBatchNorm,
  type Fit,
  type FormatDefaults,
  hasHead,
  isClassifier,
  kernelShape,
  Mismatch,
  shortcutOnly,
  type SourceLayer,
} from "./align.ts";

import { checkGraph, type GraphMismatch, type SourceGraph } from "./source_graph.ts";

/** An option-A shortcut variant: how it subsamples and where its zero channels go. */
export type ShortcutChoice = Pick<ResNetSpec, "shortcutSubsample" | "shortcutPad">;

export {
  type FormatDefaults,
  KERAS_DEFAULTS,
  PYTORCH_DEFAULTS,
  type SourceLayer,
} from "./align.ts";

/** How to read the layers. */
export interface InferOptions {
  /** Source file, for messages. */
  file: string;
  /** Format conventions for what the file does not record. */
  defaults: FormatDefaults;
  /** Pre-activation, when the source graph tells (no ReLU after the residual add). */
  preact?: boolean;
  /** Force this spec instead of inferring one; mismatches name the first tensor that differs. */
  arch?: ResNetSpec;
  /**
   * What the file's graph records beyond its weights (ONNX, Keras full models): a spec is
   * matched only when it computes exactly that graph (see `source_graph.ts`). Absent for a
   * weights-only file, whose undetermined fields take a convention, reported as assumptions.
   */
  graph?: SourceGraph;
  /** The option-A shortcut to use where the file cannot tell (`--shortcut`). */
  shortcut?: ShortcutChoice;
}

/** The recognised architecture and its weights. */
export interface InferredResNet {
  /** The matched preset, or a custom spec when none matches. */
  spec: ResNetSpec;
  /** Weights in the zoo layout, named by the spec's naming scheme. */
  weights: WeightMap;
  /**
   * What the file could not tell and a convention supplied, one sentence each naming how to
   * choose otherwise (where a state dict's stages stride, how its option-A shortcuts subsample
   * and pad); empty when the file determined everything.
   */
  assumptions: string[];
}

/**
 * The conv-bias rule that places every bias of the file: exactly where the file has them if a
 * rule does that, else with biases moved into the BatchNorm after their conv (BN-folded files
 * carry a bias on every conv; it belongs to the BatchNorm the fold removed).
 */
function chooseConvBias(fit: Fit, layers: SourceLayer[]): ResNetSpec["convBias"] | null {
  const bnFolded = !layers.some((l) => l.kind === "bn");
  let fallback: ResNetSpec["convBias"] | null = null;
  for (const convBias of SPEC_CHOICES.convBias) {
    const plan = planResNet({ ...fit.spec, convBias }, { includeTop: hasHead(fit) });
    let exact = true;
    let placed = true;
    plan.nodes.forEach((node, n) => {
      if (node.op !== "conv") return;
      const hasBias = fit.assigned.get(n)?.weights.bias !== undefined;
      if (hasBias !== node.bias) exact = false;
      if (hasBias && !node.bias && !feedsBatchNorm(plan, n)) placed = false;
    });
    if (!placed) continue;
    if (exact && !bnFolded) return convBias;
    fallback ??= convBias;
  }
  return fallback;
}

/** Whether every stride the file records is the one the aligned plan gives its conv. */
function stridesAgree(fit: Fit): boolean {
  return [...fit.assigned].every(([n, layer]) => {
    const node = fit.plan.nodes[n];
    const stride = node.op === "conv" ? node.stride : 1; // ECA's 1-D conv never strides
    return layer.stride === undefined || stride === layer.stride;
  });
}

/** The stride fields: those that reproduce every stride the file records, else the format's. */
function chooseStrides(
  fit: Fit,
  layers: SourceLayer[],
  options: InferOptions,
  assumptions: string[],
): Pick<ResNetSpec, "stageStrides" | "strideBlock" | "strideConv" | "avgDown"> | Mismatch {
  const candidates = SPEC_CHOICES.strideConv.flatMap((strideConv) =>
    SPEC_CHOICES.strideBlock.flatMap((strideBlock) =>
      SPEC_CHOICES.avgDown.map((avgDown) => ({ strideConv, strideBlock, avgDown }))
    )
  );
  const recorded = layers.filter((l) => l.kind === "conv" && l.stride !== undefined);
  if (recorded.length > 0) {
    // A stage strides by the largest stride the file records in it.
    const stageStrides = fit.spec.depths.map((_, s) => {
      const strides = fit.plan.blocks.filter((b) => b.stage === s).flatMap((b) =>
        [...fit.assigned].filter(([n]) => n >= b.start && n < b.end).map(([, l]) => l.stride ?? 1)
      );
      return Math.max(1, ...strides);
    });
    for (const c of candidates) {
      const aligned = alignSpec({ ...fit.spec, ...c, stageStrides }, layers, options.defaults);
      if (!(aligned instanceof Mismatch) && stridesAgree(aligned)) return { ...c, stageStrides };
    }
    const strided = recorded.find((l) => (l.stride ?? 1) > 1) ?? recorded[0];
    return new Mismatch(
      layers.indexOf(strided),
      `the strides the file records (${strided.stride} on ${
        describeLayer(strided)
      }, …) fit no stride placement the zoo knows`,
    );
  }
  const stageCount = fit.spec.depths.length;
  const conventional = (c: Pick<ResNetSpec, "strideBlock" | "strideConv" | "avgDown">) => ({
    ...c,
    stageStrides: Array.from(
      { length: stageCount },
      (_, s) => c.strideBlock === "first" ? (s === 0 ? 1 : 2) : (s === stageCount - 1 ? 1 : 2),
    ),
  });
  const v = fit.spec.preact ? "v2" : "v1";
  const deepStem = fit.spec.stem === "deep" || fit.spec.stem === "deepTiered";
  const chosen = conventional({
    strideConv: options.defaults.strideConv[v],
    strideBlock: options.defaults.strideBlock[v],
    avgDown: deepStem && options.defaults.avgDownWithDeepStem,
  });
  const stridesOf = (
    fields: Pick<ResNetSpec, "stageStrides" | "strideBlock" | "strideConv" | "avgDown">,
  ) =>
    planResNet({ ...fit.spec, ...fields }, { includeTop: false }).nodes
      .map((n) => n.op === "conv" ? n.stride : 0).join();
  const chosenStrides = stridesOf(chosen);
  const ambiguous = (field: "strideBlock" | "strideConv" | "avgDown") =>
    SPEC_CHOICES[field].some((value) =>
      stridesOf(conventional({ ...chosen, [field]: value })) !== chosenStrides
    );
  const where = [
    ambiguous("strideBlock") ? `in its ${chosen.strideBlock} block` : "",
    ambiguous("strideConv")
      ? `on the bottleneck's ${chosen.strideConv === "3x3" ? "3×3" : "first 1×1"} conv`
      : "",
  ].filter(Boolean);
  const convention = options.defaults.naming.id === "keras" ? "Keras" : "torchvision";
  if (where.length > 0) {
    assumptions.push(
      `the file records no strides: assumed the ${convention} convention, a stage strides ${
        where.join(", ")
      } (force another with --arch)`,
    );
  }
  // A deep stem comes with or without pooled projections (timm's "D" and "C"); a 7×7 stem
  // practically always without, which needs no saying.
  if (deepStem && ambiguous("avgDown")) {
    assumptions.push(
      chosen.avgDown
        ? "the file records no strides: assumed its strided projections average-pool 2×2 and " +
          "convolve at stride 1, as timm's ResNet-D (force another with --arch)"
        : "the file records no strides: assumed its strided projections convolve at the stride, " +
          "as timm's ResNet-C (force another with --arch)",
    );
  }
  return chosen;
}

/**
 * What a spec computes, names aside: its plan's nodes without their layer names, epsilons to six
 * digits. Specs with the same signature are the same network (a Wide ResNet's inner width can be
 * written as a wider base width or as a smaller expansion).
 */
function planSignature(spec: ResNetSpec): string {
  return JSON.stringify(
    planResNet(spec).nodes.map((node) => {
      const { name: _name, ...rest } = node as { name?: string };
      const epsilon = (node as { epsilon?: number }).epsilon;
      return epsilon === undefined ? rest : { ...rest, epsilon: Number(epsilon.toPrecision(6)) };
    }),
  );
}

const presetSignatures = new Map<ResNetSpec, string>();

/**
 * A spec that computes what a preset computes gets the preset itself; else it is named for its
 * depth (the convolutions on its main path, plus the classifier).
 */
function asPreset(spec: ResNetSpec, defaults: FormatDefaults): ResNetSpec {
  const signature = planSignature(spec);
  const preset = Object.values(PRESETS).find((p) => {
    if (p.depths.join() !== spec.depths.join() || p.classes !== spec.classes) return false;
    if (!presetSignatures.has(p)) presetSignatures.set(p, planSignature(p));
    return presetSignatures.get(p) === signature;
  });
  if (preset) return preset;
  const naming = spec.stem === "cifar" && defaults.naming === TORCHVISION_NAMES
    ? CIFAR_NAMES
    : defaults.naming;
  // Layers as a ResNet's name counts them: the stem (however many convs), the convolutions on
  // each block's main path (not its projection, not its attention gate), the classifier.
  const plan = planResNet(spec, { includeTop: false });
  // An attention gate is what is computed from a squeeze (a kept-dims global pool) up to the Mul.
  const gate = new Set<number>();
  plan.nodes.forEach((node, n) => {
    if (node.op === "globalPool" && node.keepDims) gate.add(n);
    else if ("input" in node && gate.has(node.input)) gate.add(n);
  });
  const mainPath = plan.blocks.reduce((count, b) => {
    const only = shortcutOnly(plan, b.start, b.end);
    return count + plan.nodes.slice(b.start, b.end)
      .filter((node, k) => node.op === "conv" && !only.has(b.start + k) && !gate.has(b.start + k))
      .length;
  }, 0);
  const family = spec.groups > 1 ? "resnext" : "resnet";
  return { ...spec, name: `${family}${mainPath + 2}_custom`, naming };
}

/** Builds the zoo weight map of a fit, moving conv biases the spec has no place for into the BN after. */
function weightsOf(fit: Fit, file: string): WeightMap {
  const { plan, assigned } = fit;
  const weights: WeightMap = new Map();
  const set = (name: string, data: Float32Array, shape = [data.length]) =>
    weights.set(name, { shape, data });
  plan.nodes.forEach((node, n) => {
    if (node.op === "channelConv") {
      const source = assigned.get(n);
      if (!source) throw new ZooFormatError(file, `no source layer maps to '${node.name}'`);
      weights.set(`${node.name}/kernel`, source.weights.kernel!);
    } else if (node.op === "gn") {
      const source = assigned.get(n);
      if (!source) throw new ZooFormatError(file, `no source layer maps to '${node.name}'`);
      set(`${node.name}/gamma`, source.weights.gamma!.data);
      set(`${node.name}/beta`, source.weights.beta!.data);
    } else if (node.op === "conv" || node.op === "dense") {
      const source = assigned.get(n);
      if (!source) throw new ZooFormatError(file, `no source layer maps to '${node.name}'`);
      const kernel = source.weights.kernel!;
      // A classifier written as a 1×1 conv: its [1, 1, in, out] kernel holds the [in, out] one.
      weights.set(
        `${node.name}/kernel`,
        node.op === "dense" && kernel.shape.length === 4
          ? { shape: kernel.shape.slice(2), data: kernel.data }
          : kernel,
      );
      const bias = source.weights.bias;
      if (node.op === "dense") {
        // A classifier without a bias (a bias-free Gemm, Dense(use_bias=False)) adds zeros.
        set(`${node.name}/bias`, bias?.data ?? new Float32Array(node.outFeatures));
      } else if (node.bias) {
        set(`${node.name}/bias`, bias?.data ?? new Float32Array(node.outChannels));
      } else if (bias && !feedsBatchNorm(plan, n)) {
        throw new ZooFormatError(
          file,
          `conv '${source.name}' has a bias that '${fit.spec.name}' has no place for`,
        );
      }
    } else if (node.op === "bn") {
      const source = assigned.get(n);
      const producer = plan.nodes[node.input];
      const conv = producer.op === "conv" ? producer : null;
      // A conv bias the spec has no place for moves into the BN that follows it.
      const movedBias = conv && !conv.bias
        ? assigned.get(node.input)?.weights.bias?.data
        : undefined;
      if (!source) {
        const identity = identityBatchNorm(
          movedBias ?? new Float32Array(node.channels),
          node.epsilon,
        );
        set(`${node.name}/gamma`, identity.gamma);
        set(`${node.name}/beta`, identity.beta);
        set(`${node.name}/moving_mean`, identity.mean);
        set(`${node.name}/moving_variance`, identity.variance);
        return;
      }
      const mean = source.weights.moving_mean!.data;
      set(`${node.name}/moving_mean`, movedBias ? mean.map((m, k) => m - movedBias[k]) : mean);
      set(`${node.name}/moving_variance`, source.weights.moving_variance!.data);
      if (node.affine) {
        set(
          `${node.name}/gamma`,
          source.weights.gamma?.data ?? new Float32Array(node.channels).fill(1),
        );
        set(`${node.name}/beta`, source.weights.beta?.data ?? new Float32Array(node.channels));
      }
    }
  });
  checkWeights(plan, weights, file);
  return weights;
}

/** What a weights-only file is assumed to have when its plan has option-A shortcuts. */
export const OPTION_A_ASSUMPTION: string =
  "option-A shortcuts carry no weights, so the file cannot tell how they subsample and pad: " +
  "assumed slice-both, x[:, :, ::2, ::2] with the new channels zero-padded half before and half " +
  "after (akamaster's CIFAR ResNets); if the network was written otherwise, choose with " +
  "--shortcut slice-end (::2 or MaxPool2d(1, 2), padded at the end), avgpool-both or avgpool-end " +
  "(avg_pool2d(x, 2))";

/** Whether a plan has an option-A shortcut, whose subsampling and padding no weight records. */
function hasOptionA(fit: Fit): boolean {
  return fit.spec.shortcut === "optionA" &&
    fit.plan.nodes.some((n) => n.op === "subsample" || n.op === "padChannels");
}

/** The fields a graph shows but weights do not, in every combination, in order of preference. */
function graphChoices(shortcut?: ShortcutChoice) {
  return SPEC_CHOICES.shortcutSubsample.flatMap((shortcutSubsample) =>
    SPEC_CHOICES.shortcutPad.flatMap((shortcutPad) =>
      SPEC_CHOICES.poolPadding.map((poolPadding) => ({
        shortcutSubsample,
        shortcutPad,
        poolPadding,
      }))
    )
  ).filter((c) =>
    !shortcut ||
    (c.shortcutSubsample === shortcut.shortcutSubsample && c.shortcutPad === shortcut.shortcutPad)
  );
}

/** A graph mismatch, placed after every structural one: the weights fit, the graph differs. */
function graphMismatch(layers: SourceLayer[], found: GraphMismatch): Mismatch {
  return new Mismatch(layers.length + 1, found.reason, found.progress);
}

/**
 * Settles what the weights cannot tell: with a graph, the option-A shortcuts and the stem pool's
 * padding the graph has (each combination checked against the whole graph); without one, the
 * `--shortcut` choice or the convention, reported as an assumption.
 */
function settle(
  spec: ResNetSpec,
  layers: SourceLayer[],
  options: InferOptions,
  assumptions: string[],
): Fit | Mismatch {
  const { graph, defaults } = options;
  const choices = graph
    ? graphChoices(options.shortcut)
    : [{ ...OPTION_A_CONVENTION, ...options.shortcut, poolPadding: spec.poolPadding }];
  let furthest: Mismatch | null = null;
  const tried = new Set<string>();
  for (const choice of choices) {
    const candidate = asPreset({ ...spec, ...choice }, defaults);
    // Choices that plan no differently (no option-A shortcut, say) are tried once.
    const plan = JSON.stringify(planResNet(candidate, { includeTop: false }).nodes);
    if (tried.has(plan)) continue;
    tried.add(plan);
    const fit = alignSpec(candidate, layers, defaults);
    if (fit instanceof Mismatch) {
      if (fit.beats(furthest)) furthest = fit;
      continue;
    }
    const wrong = graph ? checkGraph(fit, graph) : null;
    if (wrong) {
      const mismatch = graphMismatch(layers, wrong);
      if (mismatch.beats(furthest)) furthest = mismatch;
      continue;
    }
    if (!graph && !options.shortcut && hasOptionA(fit)) assumptions.push(OPTION_A_ASSUMPTION);
    return fit;
  }
  return furthest!;
}

/** Completes a fit's spec with what the weights decide after alignment: biases, strides, epsilon. */
function complete(
  shape: ResNetSpec,
  layers: SourceLayer[],
  options: InferOptions,
  assumptions: string[],
): Fit | Mismatch {
  const fit = alignSpec(shape, layers, options.defaults);
  if (fit instanceof Mismatch) return fit;
  const convBias = chooseConvBias(fit, layers);
  if (convBias === null) {
    const biased = [...fit.assigned.values()].find((l) => l.kind === "conv" && l.weights.bias);
    return new Mismatch(
      layers.indexOf(biased!),
      `${describeLayer(biased)} has a bias no zoo spec places`,
    );
  }
  const strides = chooseStrides(fit, layers, options, assumptions);
  if (strides instanceof Mismatch) return strides;
  const firstBn = [...fit.assigned.values()].find((l) => l.kind === "bn" || l.kind === "gn");
  const grouped = fit.spec.norm === "group";
  if (grouped && !layers.some((l) => l.kind === "gn" && l.groups)) {
    assumptions.push(
      `the file records no GroupNorm groups: assumed ${fit.spec.normGroups}, as BiT ` +
        "(force another with --arch)",
    );
  }
  // A graph shows whether it standardises its conv weights; a state dict's weights do not.
  const convs = layers.filter((l) => l.kind === "conv");
  const recorded = convs.find((l) => l.standardize !== undefined);
  // A float32 ε read back (1e-8 is 9.99999993922529e-9) to the decimal it was written as.
  let weightStandardization = recorded
    ? Number(Math.max(0, ...convs.map((l) => l.standardize ?? 0)).toPrecision(6))
    : 0;
  if (!recorded && grouped && options.defaults.groupNormStandardization > 0) {
    weightStandardization = options.defaults.groupNormStandardization;
    assumptions.push(
      `the file records no weight standardisation: assumed its convolutions standardise their ` +
        `weights (ε ${weightStandardization}), as BiT's (force another with --arch)`,
    );
  }
  const spec: ResNetSpec = {
    ...fit.spec,
    ...strides,
    strideConv: fit.spec.block === "basic" ? "3x3" : strides.strideConv,
    convBias,
    bnEpsilon: firstBn?.epsilon ?? options.defaults.bnEpsilon,
    weightStandardization,
  };
  // Strides can add nodes (an option-A shortcut subsamples only where it strides), so the final
  // spec's plan is aligned afresh.
  return settle(spec, layers, options, assumptions);
}

/**
 * Infers the ResNet in a list of source layers and returns its spec and zoo weights.
 * When nothing fits, the error names the layer where the best hypothesis broke and what it expected.
 *
 * @example
 * ```ts
 * import { readPytorch } from "../formats/pytorch.ts";
 * import { importBytes } from "./import.ts";
 * const path = "testdata/cifar10-resnet/resnet20-12fca82f.th";
 * // importBytes lists the checkpoint's layers and infers the spec with PYTORCH_DEFAULTS.
 * const { spec } = await importBytes(await Deno.readFile(path), path);
 * console.log(spec.name, readPytorch(await Deno.readFile(path), path).format); // cifar_resnet20 legacy
 * ```
 */
export function inferResNet(layers: SourceLayer[], options: InferOptions): InferredResNet {
  const { file, arch } = options;
  let best: Mismatch | null = null;
  const note = (m: Mismatch) => {
    if (m.beats(best)) best = m;
  };
  if (arch) {
    const dense = layers[layers.length - 1];
    const classes = isClassifier(layers, layers.length - 1)
      ? kernelShape(dense).at(-1)!
      : arch.classes;
    const spec = { ...arch, classes, ...options.shortcut };
    const aligned = alignSpec(spec, layers, options.defaults);
    const wrong = !(aligned instanceof Mismatch) && options.graph
      ? checkGraph(aligned, options.graph)
      : null;
    const fit = wrong ? graphMismatch(layers, wrong) : aligned;
    if (fit instanceof Mismatch) {
      let shape = "";
      try {
        const inferred = inferResNet(layers, { ...options, arch: undefined }).spec;
        shape = ` (the file has depths [${inferred.depths}], widths [${inferred.widths}])`;
      } catch {
        // The file is no zoo ResNet at all: the mismatch says enough.
      }
      throw new NotZooResNetError(file, `does not match '${arch.name}': ${fit.message}${shape}`);
    }
    const assumptions = !options.graph && !options.shortcut && hasOptionA(fit)
      ? [OPTION_A_ASSUMPTION]
      : [];
    return { spec, weights: weightsOf(fit, file), assumptions };
  }
  const fits: { fit: Fit; assumptions: string[] }[] = [];
  const stems: StemCache = new Map();
  for (const h of plausibleHypotheses(layers, options.graph)) {
    if (options.preact !== undefined && h.preact !== options.preact) continue;
    const grown = grow(h, layers, options.defaults, stems);
    if (grown instanceof Mismatch) {
      note(grown);
      continue;
    }
    const assumptions: string[] = [];
    const completed = complete(grown, layers, options, assumptions);
    if (completed instanceof Mismatch) {
      note(completed);
      continue;
    }
    fits.push({ fit: completed, assumptions });
  }
  // Several hypotheses can fit a file that does not record everything (a BN-folded export
  // has no stem BatchNorm to tell stemNorm): a preset decides, else the first in preference.
  const chosen = fits.find(({ fit }) => Object.values(PRESETS).includes(fit.spec)) ?? fits[0];
  if (chosen) {
    return {
      spec: chosen.fit.spec,
      weights: weightsOf(chosen.fit, file),
      assumptions: chosen.assumptions,
    };
  }
  const reason = (best as Mismatch | null)?.message ?? "no layers";
  const groupless = layers.some((l) => l.kind === "gn" && !l.groups)
    ? ` (its GroupNorms record no group count and ${SPEC_DEFAULTS.normGroups} was tried: ` +
      "give a spec with --arch)"
    : "";
  throw new NotZooResNetError(file, `not a ResNet this zoo knows: ${reason}${groupless}`);
}
