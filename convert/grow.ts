/**
 * Growing a candidate spec along a file's layers, under one hypothesis about the spec's shaping
 * fields: the stem, then block after block (another block of the current stage, else a new stage
 * of some width), then the head, each aligned with the file by kind and shape (`align.ts`). The
 * numbers a block's shapes show — widths, expansion, ResNeXt groups and bottleneck width, the SE
 * squeeze, whether every stage projects — are read off the channel counts of the next layers
 * and tried, never taken from names.
 *
 * @example
 * ```ts
 * import { HYPOTHESES } from "./grow.ts";
 * // The preferred hypothesis: a torchvision-like v1 net.
 * console.log(HYPOTHESES[0].stem, HYPOTHESES[0].block, HYPOTHESES[0].attention); // imagenet basic none
 * ```
 *
 * @module
 */

import { type ResNetSpec, SPEC_CHOICES, SPEC_DEFAULTS } from "../arch/spec.ts";
import { type Plan, planResNet, seChannels } from "../arch/plan.ts";
import {
  alignWindow,
  describeLayer,
  fileOrder,
  type FormatDefaults,
  isClassifier,
  kernelShape,
  Mismatch,
  planOrMismatch,
  type SourceLayer,
} from "./align.ts";
import type { SourceGraph } from "./source_graph.ts";

/** The spec fields that change which weighted layers a plan has; the matcher tries each value. */
const SHAPING_FIELDS = [
  "stem",
  "block",
  "preact",
  "stemNorm",
  "inputBn",
  "shortcut",
  "attention",
  "attentionAt",
  "norm",
] as const;

/**
 * One combination of values of the shaping fields.
 *
 * @example
 * ```ts
 * import type { Hypothesis } from "./grow.ts";
 * const h: Hypothesis = {
 *   stem: "deep", block: "bottleneck", preact: false, stemNorm: true, inputBn: false,
 *   shortcut: "projection", attention: "se", attentionAt: "end", norm: "batch",
 * };
 * console.log(h.stem); // deep
 * ```
 */
export type Hypothesis = Pick<ResNetSpec, (typeof SHAPING_FIELDS)[number]>;

/**
 * Every combination of the shaping fields, in the order of preference of their values (where a
 * net has no attention, where it would sit is no question).
 *
 * @example
 * ```ts
 * console.log(HYPOTHESES.length); // 1280
 * ```
 */
export const HYPOTHESES: readonly Hypothesis[] = (SHAPING_FIELDS.reduce<Partial<Hypothesis>[]>(
  (partial, field) =>
    partial.flatMap((h) =>
      (SPEC_CHOICES[field] as readonly unknown[]).map((value) => ({ ...h, [field]: value }))
    ),
  [{}],
) as Hypothesis[]).filter((h) =>
  h.attention !== "none" || h.attentionAt === SPEC_CHOICES.attentionAt[0]
);

/**
 * The hypotheses a file can fit at all, by what it holds: every norm of a plan takes a layer, so
 * a GroupNorm network needs GroupNorm layers; an ECA gate a 1-D conv; and any gate, in a file
 * with a graph, a Sigmoid. Growing the others only to see them fail was most of the matching on
 * a plain ResNet (a ResNet-50 ONNX planned 1,100 one-block candidates for SE alone).
 *
 * @example
 * ```ts
 * import { plausibleHypotheses } from "./grow.ts";
 * const conv = { kind: "conv" as const, name: "c", weights: {} };
 * console.log(plausibleHypotheses([conv], { ops: [], output: 0, outputs: 1 }).every((h) => h.attention === "none" && h.norm === "batch")); // true
 * ```
 */
export function plausibleHypotheses(layers: SourceLayer[], graph?: SourceGraph): Hypothesis[] {
  const has = (kind: SourceLayer["kind"]) => layers.some((l) => l.kind === kind);
  const gated = graph ? graph.ops.some((op) => op.op === "sigmoid") : true;
  return HYPOTHESES.filter((h) =>
    (h.norm !== "group" || has("gn")) &&
    (h.attention === "none" || gated) &&
    (h.attention !== "eca" || has("conv1d"))
  );
}

/** The numbers of a block the matcher reads off channel counts; the first block fixes them. */
type BlockNumbers = Pick<
  ResNetSpec,
  | "expansion"
  | "groups"
  | "baseWidth"
  | "seReduction"
  | "seDivisor"
  | "projectEveryStage"
  | "normGroups"
>;

/** A candidate spec under a hypothesis; fields the layers cannot shape take their first value. */
function candidateSpec(
  h: Hypothesis,
  stemWidth: number,
  stages: { width: number; depth: number }[],
  numbers: BlockNumbers,
  defaults: FormatDefaults,
): ResNetSpec {
  return {
    ...SPEC_DEFAULTS,
    ...h,
    ...numbers,
    name: "candidate",
    naming: defaults.naming,
    stemWidth,
    widths: stages.map((s) => s.width),
    depths: stages.map((s) => s.depth),
    stageStrides: stages.map(() => 1),
    strideBlock: SPEC_CHOICES.strideBlock[0],
    strideConv: SPEC_CHOICES.strideConv[0],
    avgDown: SPEC_CHOICES.avgDown[0],
    convBias: SPEC_CHOICES.convBias[0],
    bnEpsilon: defaults.bnEpsilon,
    poolPadding: SPEC_CHOICES.poolPadding[0],
    classes: 0,
  };
}

/** More layers than any block has: where a new stage's numbers can be read. */
const SPAN = 12;

const unique = <T>(values: T[]): T[] => [...new Set(values)];

/** The output channel counts of the convolutions in the next {@link SPAN} layers. */
function channelCounts(layers: SourceLayer[], position: number): number[] {
  return unique(
    layers.slice(position, position + SPAN)
      .filter((l) => l.kind === "conv")
      .map((l) => kernelShape(l)[3]),
  );
}

/** Group counts a 3×3 conv with `width` outputs in the window could have (1 always). */
function groupCandidates(window: SourceLayer[], width: number): number[] {
  const grouped = window.filter((l) => l.kind === "conv" && kernelShape(l)[0] === 3)
    .filter((l) => kernelShape(l)[3] === width && width % kernelShape(l)[2] === 0)
    .map((l) => width / kernelShape(l)[2]);
  return unique([1, ...grouped]);
}

/** SE reduction and divisor pairs that give a squeeze conv of the window on `channels` channels. */
function squeezeCandidates(
  h: Hypothesis,
  window: SourceLayer[],
  channels: number,
): Pick<ResNetSpec, "seReduction" | "seDivisor">[] {
  const standard = { seReduction: SPEC_DEFAULTS.seReduction, seDivisor: SPEC_DEFAULTS.seDivisor };
  if (h.attention !== "se") return [standard];
  const squeezes = unique(
    window.filter((l) => l.kind === "conv" && kernelShape(l)[0] === 1)
      .filter((l) => kernelShape(l)[2] === channels)
      .map((l) => kernelShape(l)[3]),
  );
  const found = squeezes.flatMap((squeeze) =>
    [standard, { seReduction: channels / squeeze, seDivisor: SPEC_DEFAULTS.seDivisor }, {
      seReduction: channels / squeeze,
      seDivisor: 1,
    }].filter((c) => seChannels(c, channels) === squeeze)
  );
  return unique(found.map((c) => JSON.stringify(c))).map((c) => JSON.parse(c));
}

/** GroupNorm groups as the file records them (a graph does, a state dict does not: BiT's 32). */
export function normGroupsOf(layers: SourceLayer[]): number {
  return layers.find((l) => l.kind === "gn" && l.groups)?.groups ?? SPEC_DEFAULTS.normGroups;
}

/**
 * The candidate numbers of a net's first block, which reads `channels` and could output any count
 * `out` of the window from an inner width `inner` of the window. A bottleneck prefers expansion
 * 4 (torchvision's; inner widths then give groups and base width), then out/inner; a basic block
 * takes its width from its first conv.
 */
function firstBlockTries(
  h: Hypothesis,
  layers: SourceLayer[],
  position: number,
  channels: number,
): { width: number; numbers: BlockNumbers }[] {
  const window = layers.slice(position, position + SPAN);
  const counts = channelCounts(layers, position);
  const tries: { width: number; numbers: BlockNumbers }[] = [];
  for (const out of counts) {
    for (const inner of counts) {
      const expansions = h.block === "bottleneck" ? unique([4, out / inner]) : [out / inner];
      for (const expansion of expansions.filter((e) => Number.isInteger(out / e) && e >= 1)) {
        const width = out / expansion;
        const groupings = h.block === "bottleneck" ? groupCandidates(window, inner) : [1];
        for (const groups of groupings) {
          const baseWidth = (inner * 64) / (width * groups);
          if (!Number.isInteger(baseWidth)) continue;
          if (Math.floor((width * baseWidth) / 64) * groups !== inner) continue;
          const attended = h.attentionAt === "end" ? out : inner;
          const projections = channels === out ? SPEC_CHOICES.projectEveryStage : [false];
          for (const squeeze of squeezeCandidates(h, window, attended)) {
            for (const projectEveryStage of projections) {
              tries.push({
                width,
                numbers: {
                  expansion,
                  groups,
                  baseWidth,
                  ...squeeze,
                  projectEveryStage,
                  normGroups: normGroupsOf(layers),
                },
              });
            }
          }
        }
      }
    }
  }
  return tries;
}

/**
 * The stems that fit the start of the file, by the fields that shape a stem: aligning one is the
 * first step of every hypothesis, so each is aligned once per file.
 */
export type StemCache = Map<string, { width: number; size: number } | Mismatch>;

/** Aligns the hypothesis' stem, trying the output widths of the file's first three convs. */
function alignStem(
  h: Hypothesis,
  layers: SourceLayer[],
  defaults: FormatDefaults,
  order: (plan: Plan, start: number, end: number) => number[],
  cache: StemCache,
): { width: number; size: number } | Mismatch {
  const key = JSON.stringify([h.stem, h.stemNorm, h.inputBn, h.norm]);
  const cached = cache.get(key);
  if (cached) return cached;
  const convs = layers.filter((l) => l.kind === "conv").slice(0, 3);
  let result: { width: number; size: number } | Mismatch | null = null;
  for (const width of unique(convs.map((l) => kernelShape(l)[3]))) {
    const numbers = { ...SPEC_DEFAULTS, expansion: 1, normGroups: normGroupsOf(layers) };
    const plan = planOrMismatch(candidateSpec(h, width, [], numbers, defaults), {
      includeTop: false,
    }, 0);
    const stem = plan instanceof Mismatch
      ? plan
      : alignWindow(plan, order(plan, 1, plan.stemEnd), layers, 0);
    if (!(stem instanceof Mismatch)) {
      result = { width, size: stem.size };
      break;
    }
    if (stem.beats(result as Mismatch | null)) result = stem;
  }
  result ??= new Mismatch(0, "the file has no convolution");
  cache.set(key, result);
  return result;
}

/**
 * Grows a spec under one hypothesis: the stem, then block after block (another block of the
 * current stage, else a new stage of some width), then the head, each aligned with the file.
 * Each candidate block is read off the plan of a one-block spec with the same input channels.
 *
 * @example
 * ```ts
 * import { KERAS_DEFAULTS } from "./align.ts";
 * import { grow, HYPOTHESES } from "./grow.ts";
 * const grown = grow(HYPOTHESES[0], [], KERAS_DEFAULTS, new Map());
 * console.log("message" in grown ? grown.message : grown.name); // the file has no convolution
 * ```
 */
export function grow(
  h: Hypothesis,
  layers: SourceLayer[],
  defaults: FormatDefaults,
  cache: StemCache,
): ResNetSpec | Mismatch {
  const bnFolded = !layers.some((l) => l.kind === "bn");
  const order = (plan: Plan, start: number, end: number) =>
    fileOrder(plan, start, end, defaults.shortcutFirst, bnFolded);
  const stem = alignStem(h, layers, defaults, order, cache);
  if (stem instanceof Mismatch) return stem;
  const stemWidth = stem.width;
  const stages: { width: number; depth: number }[] = [];
  let numbers: BlockNumbers | null = null;
  let position = stem.size;
  let channels = stemWidth;
  let furthest = null as Mismatch | null;
  for (;;) {
    const last = stages[stages.length - 1];
    const tries: { width: number; numbers: BlockNumbers; extend: boolean }[] = numbers
      ? [
        ...(last ? [{ width: last.width, numbers, extend: true }] : []),
        ...channelCounts(layers, position).filter((out) => out % numbers!.expansion === 0)
          .map((out) => ({ width: out / numbers!.expansion, numbers: numbers!, extend: false })),
      ]
      : firstBlockTries(h, layers, position, channels).map((t) => ({ ...t, extend: false }));
    let fit: { t: (typeof tries)[number]; size: number; channels: number } | null = null;
    for (const t of tries) {
      const spec = candidateSpec(h, channels, [{ width: t.width, depth: 1 }], t.numbers, defaults);
      const plan = planOrMismatch(spec, { includeTop: false }, position);
      const aligned = plan instanceof Mismatch ? plan : alignWindow(
        plan,
        order(plan, plan.blocks[0].start, plan.blocks[0].end),
        layers,
        position,
      );
      if (aligned instanceof Mismatch) {
        if (aligned.beats(furthest)) furthest = aligned;
        continue;
      }
      fit = { t, size: aligned.size, channels: (plan as Plan).blocks[0].channels };
      break;
    }
    if (!fit) break;
    if (fit.t.extend) last.depth++;
    else stages.push({ width: fit.t.width, depth: 1 });
    numbers = fit.t.numbers;
    channels = fit.channels;
    position += fit.size;
  }
  if (!numbers) return furthest ?? new Mismatch(position, "no residual block fits");
  const dense = isClassifier(layers, layers.length - 1) ? layers[layers.length - 1] : null;
  const spec = candidateSpec(h, stemWidth, stages, numbers, defaults);
  spec.classes = dense ? kernelShape(dense).at(-1)! : 0;
  const plan = planResNet(spec, { includeTop: dense !== null });
  const tailStart = plan.blocks[plan.blocks.length - 1].end;
  const tail = alignWindow(plan, order(plan, tailStart, plan.nodes.length), layers, position);
  if (tail instanceof Mismatch) return furthest?.beats(tail) ? furthest : tail;
  position += tail.size;
  if (position !== layers.length) {
    const end = new Mismatch(
      position,
      `${
        describeLayer(layers[position])
      } at position ${position} does not fit: expected no more layers`,
    );
    return furthest?.beats(end) ? furthest : end;
  }
  return spec;
}
