/**
 * Recognises a ResNet by structure. Every importer turns its file into an ordered list
 * of {@link SourceLayer}s (convs, BatchNorms, denses with zoo-layout weights); this module
 * walks that list block by block — by kernel sizes and channel counts, never by names —
 * infers the {@link ResNetSpec}, and fills the zoo weight map.
 *
 * @example
 * ```ts
 * import { inferResNet } from "./structure.ts";
 * // layers: SourceLayer[] from one of the importers
 * // const { spec, weights } = inferResNet(layers, { file: "model.pth", defaults: PYTORCH_DEFAULTS });
 * ```
 *
 * @module
 */

import {
  CIFAR_NAMES,
  KERAS_NAMES,
  layerName,
  type NamingScheme,
  type ResNetSpec,
  TORCHVISION_NAMES,
} from "../arch/spec.ts";
import { PRESETS } from "../arch/presets.ts";
import { planResNet } from "../arch/plan.ts";
import { checkWeights, type Weight, type WeightMap } from "../arch/weights.ts";
import { identityBatchNorm } from "./layout.ts";
import { NotZooResNetError, ZooFormatError } from "../arch/errors.ts";

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
  /** When a projection and the last main conv have the same shape, the projection is the earlier one in the file. */
  projectionFirst: boolean;
}

/** PyTorch files: torchvision semantics (v1.5). */
export const PYTORCH_DEFAULTS: FormatDefaults = {
  strideConv: { v1: "3x3", v2: "3x3" },
  strideBlock: { v1: "first", v2: "first" },
  bnEpsilon: 1e-5,
  naming: TORCHVISION_NAMES,
  projectionFirst: false,
};

/** Keras files: Keras Applications semantics (v1 stride on the first 1×1, V2 on the last block). */
export const KERAS_DEFAULTS: FormatDefaults = {
  strideConv: { v1: "1x1", v2: "3x3" },
  strideBlock: { v1: "first", v2: "last" },
  bnEpsilon: 1.001e-5,
  naming: KERAS_NAMES,
  projectionFirst: true,
};

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
}

/** The recognised architecture and its weights. */
export interface InferredResNet {
  /** The matched preset, or a custom spec when none matches. */
  spec: ResNetSpec;
  /** Weights in the zoo layout, named by the spec's naming scheme. */
  weights: WeightMap;
}

type Role =
  | { key: "inputBn" | "stemConv" | "stemBn" | "postBn" | "dense" }
  | { key: "conv" | "bn"; stage: number; block: number; index: number }
  | { key: "preactBn" | "shortcutConv" | "shortcutBn"; stage: number; block: number };

interface Flags {
  block: "basic" | "bottleneck";
  preact: boolean;
  stemNorm: boolean;
  inputBn: boolean;
}

interface WalkedBlock {
  inChannels: number;
  width: number;
  outChannels: number;
  projection: boolean;
  /** Strides of the main convs and the projection, when known. */
  strides: (number | undefined)[];
  mainKernels: number[];
}

interface Walk {
  flags: Flags;
  stem: SourceLayer;
  blocks: WalkedBlock[];
  /** Index into `blocks` where each stage starts. */
  stageStarts: number[];
  assigned: { layer: SourceLayer; role: Role }[];
  dense: SourceLayer | null;
  bnFolded: boolean;
}

class MismatchError extends Error {
  constructor(readonly position: number, message: string) {
    super(message);
  }
}

const channelsOf = (layer: SourceLayer): { in: number; out: number; kernel: number } => {
  const shape = layer.weights.kernel!.shape;
  return { kernel: shape[0], in: shape[2], out: shape[3] };
};

function describe(layer: SourceLayer | undefined): string {
  if (!layer) return "the end of the file";
  if (layer.kind === "conv") {
    const c = channelsOf(layer);
    return `conv '${layer.name}' (${c.kernel}×${c.kernel}, ${c.in}→${c.out})`;
  }
  if (layer.kind === "bn") {
    return `BatchNorm '${layer.name}' (${layer.weights.moving_mean!.shape[0]} channels)`;
  }
  return `dense '${layer.name}' ([${layer.weights.kernel!.shape}])`;
}

const bnChannels = (layer: SourceLayer): number => layer.weights.moving_mean!.shape[0];

interface ReadBlock {
  /** Layers consumed after the pre-activation BN. */
  length: number;
  width: number;
  outChannels: number;
  projection: boolean;
  strides: (number | undefined)[];
  roles: { layer: SourceLayer; role: (stage: number, block: number) => Role }[];
}

/**
 * Reads one residual block starting at `start`, with or without a projection. Within a
 * block, frameworks list layers in different orders (PyTorch: main path then downsample;
 * Keras: `_0_conv, _3_conv, _0_bn, _3_bn` interleaved), so the block's layers are taken as a
 * window and matched by channel flow: each conv's input must be its predecessor's output.
 * Equal-shaped candidates keep their order in the file; BatchNorms pair with the convs of
 * their channel count in the same order as those convs appear.
 */
function readBlock(
  layers: SourceLayer[],
  start: number,
  c: number,
  kernels: number[],
  projection: boolean,
  flags: Flags,
  bnFolded: boolean,
  projectionFirst: boolean,
): ReadBlock | null {
  const convCount = kernels.length + (projection ? 1 : 0);
  const normalisedMain = flags.preact ? kernels.length - 1 : kernels.length;
  const bnCount = bnFolded ? 0 : normalisedMain + (projection && !flags.preact ? 1 : 0);
  const window = layers.slice(start, start + convCount + bnCount);
  const convs = window.filter((l) => l.kind === "conv");
  const bns = window.filter((l) => l.kind === "bn");
  if (
    window.length !== convCount + bnCount || convs.length !== convCount || bns.length !== bnCount
  ) return null;
  // The main path by channel flow from `c` (depth-first, candidates in file order).
  const chain = (from: number, k: number, used: Set<SourceLayer>): SourceLayer[] | null => {
    if (k === kernels.length) return [];
    for (const l of convs) {
      const shape = channelsOf(l);
      if (used.has(l) || shape.kernel !== kernels[k] || shape.in !== from) continue;
      const rest = chain(shape.out, k + 1, new Set([...used, l]));
      if (rest) return [l, ...rest];
    }
    return null;
  };
  const main = chain(c, 0, new Set());
  if (!main) return null;
  const outChannels = channelsOf(main[main.length - 1]).out;
  let shortcut: SourceLayer | undefined;
  if (projection) {
    if (c === outChannels) return null;
    const candidate = convs.find((l) => !main.includes(l));
    const shape = candidate && channelsOf(candidate);
    if (!candidate || shape!.kernel !== 1 || shape!.in !== c || shape!.out !== outChannels) {
      return null;
    }
    shortcut = candidate;
    const last = main[main.length - 1];
    if (channelsOf(last).in === c && channelsOf(last).kernel === 1) {
      // The last main conv and the projection look alike (1×1, c→out): the file order decides.
      const [earlier, later] = [last, candidate].sort((x, y) =>
        window.indexOf(x) - window.indexOf(y)
      );
      [shortcut, main[main.length - 1]] = projectionFirst ? [earlier, later] : [later, earlier];
    }
  }
  const roles: ReadBlock["roles"] = [];
  const needsBn: { conv: SourceLayer; role: (stage: number, block: number) => Role }[] = [];
  main.forEach((layer, index) => {
    roles.push({
      layer,
      role: (stage, block) => ({ key: "conv", stage, block, index: index + 1 }),
    });
    if (!flags.preact || index < kernels.length - 1) {
      needsBn.push({
        conv: layer,
        role: (stage, block) => ({ key: "bn", stage, block, index: index + 1 }),
      });
    }
  });
  if (shortcut) {
    roles.push({
      layer: shortcut,
      role: (stage, block) => ({ key: "shortcutConv", stage, block }),
    });
    if (!flags.preact) {
      needsBn.push({
        conv: shortcut,
        role: (stage, block) => ({ key: "shortcutBn", stage, block }),
      });
    }
  }
  if (!bnFolded) {
    needsBn.sort((x, y) => window.indexOf(x.conv) - window.indexOf(y.conv));
    const pending = [...bns];
    for (const { conv, role } of needsBn) {
      const k = pending.findIndex((bn) =>
        bnChannels(bn) === channelsOf(conv).out && window.indexOf(bn) > window.indexOf(conv)
      );
      if (k < 0) return null;
      roles.push({ layer: pending[k], role });
      pending.splice(k, 1);
    }
  }
  return {
    length: window.length,
    width: channelsOf(main[0]).out,
    outChannels,
    projection,
    strides: [...main.map((l) => l.stride), shortcut?.stride],
    roles,
  };
}

/** Walks the layer list under one hypothesis about the family; throws MismatchError where it breaks. */
function walk(layers: SourceLayer[], flags: Flags, projectionFirst: boolean): Walk {
  let i = 0;
  const assigned: Walk["assigned"] = [];
  const bnFolded = !layers.some((l) => l.kind === "bn");
  const fail = (expected: string): never => {
    throw new MismatchError(
      i,
      `${describe(layers[i])} at position ${i} does not fit: expected ${expected}`,
    );
  };
  const peek = (offset = 0) => layers[i + offset];
  const isConv = (l: SourceLayer | undefined, kernel?: number, inChannels?: number) =>
    l?.kind === "conv" && (kernel === undefined || channelsOf(l).kernel === kernel) &&
    (inChannels === undefined || channelsOf(l).in === inChannels);
  const takeBn = (channels: number, role: Role) => {
    const l = peek();
    if (l?.kind !== "bn" || l.weights.moving_mean!.shape[0] !== channels) {
      fail(`a BatchNorm of ${channels} channels`);
    }
    assigned.push({ layer: l, role });
    i++;
  };
  const takeConv = (role: Role, kernel: number, inChannels: number) => {
    const l = peek();
    if (!isConv(l, kernel, inChannels)) {
      fail(`a ${kernel}×${kernel} conv from ${inChannels} channels`);
    }
    assigned.push({ layer: l, role });
    i++;
  };
  // In a bn-folded source the BatchNorms are gone; everything else is where it was.
  const bnAfterConv = (channels: number, role: Role) => {
    if (!bnFolded) takeBn(channels, role);
  };

  if (flags.inputBn) takeBn(3, { key: "inputBn" });
  const stem = peek();
  if (!isConv(stem, undefined, 3) || ![3, 7].includes(channelsOf(stem).kernel)) {
    fail("a 7×7 or 3×3 stem conv on 3 channels");
  }
  takeConv({ key: "stemConv" }, channelsOf(stem).kernel, 3);
  let c = channelsOf(stem).out;
  if (flags.stemNorm) bnAfterConv(c, { key: "stemBn" });

  const blocks: WalkedBlock[] = [];
  const stageStarts: number[] = [];
  const kernels = flags.block === "basic" ? [3, 3] : [1, 3, 1];
  for (;;) {
    const b = blocks.length;
    const preactBn = flags.preact && !bnFolded ? peek() : undefined;
    if (preactBn && (preactBn.kind !== "bn" || bnChannels(preactBn) !== c)) break;
    const start = i + (preactBn ? 1 : 0);
    const block = [true, false]
      .map((projection) =>
        readBlock(layers, start, c, kernels, projection, flags, bnFolded, projectionFirst)
      )
      .find((found) => found !== null);
    if (!block) {
      if (blocks.length === 0) fail(`the first residual block (${flags.block})`);
      break;
    }
    if (blocks.length === 0 || blocks[b - 1].width !== block.width) stageStarts.push(b);
    const stage = stageStarts.length - 1;
    const inStage = b - stageStarts[stage];
    if (preactBn) {
      assigned.push({ layer: preactBn, role: { key: "preactBn", stage, block: inStage } });
    }
    for (const { layer, role } of block.roles) assigned.push({ layer, role: role(stage, inStage) });
    i = start + block.length;
    blocks.push({
      inChannels: c,
      width: block.width,
      outChannels: block.outChannels,
      projection: block.projection,
      strides: block.strides,
      mainKernels: kernels,
    });
    c = block.outChannels;
  }
  if (flags.preact) bnAfterConv(c, { key: "postBn" });
  let dense: SourceLayer | null = null;
  if (peek()?.kind === "dense") {
    dense = peek();
    if (dense.weights.kernel!.shape[0] !== c) fail(`a dense layer on ${c} features`);
    assigned.push({ layer: dense, role: { key: "dense" } });
    i++;
  }
  if (i !== layers.length) fail("no more layers");
  return { flags, stem, blocks, stageStarts, assigned, dense, bnFolded };
}

function specOf(w: Walk, options: InferOptions): ResNetSpec {
  const { defaults } = options;
  const stemKernel = channelsOf(w.stem).kernel;
  const stages = w.stageStarts.map((start, s) =>
    w.blocks.slice(start, w.stageStarts[s + 1] ?? w.blocks.length)
  );
  const first = w.blocks[0];
  const expansion = first.outChannels / first.width;
  const known = w.blocks.every((b) =>
    b.strides.slice(0, b.mainKernels.length).every((s) => s !== undefined)
  );
  const blockStride = (b: WalkedBlock) => Math.max(...b.strides.map((s) => s ?? 1));
  const stridedBlocks = stages.map((blocks) => blocks.findIndex((b) => blockStride(b) > 1));
  const strideBlock: ResNetSpec["strideBlock"] = known
    ? stages.some((blocks, s) => stridedBlocks[s] > 0 && stridedBlocks[s] === blocks.length - 1)
      ? "last"
      : "first"
    : defaults.strideBlock[w.flags.preact ? "v2" : "v1"];
  const stageStrides = known
    ? stages.map((blocks, s) => stridedBlocks[s] < 0 ? 1 : blockStride(blocks[stridedBlocks[s]]))
    : stages.map((_, s) =>
      strideBlock === "first" ? (s === 0 ? 1 : 2) : (s === stages.length - 1 ? 1 : 2)
    );
  let strideConv = defaults.strideConv[w.flags.preact ? "v2" : "v1"];
  if (known && w.flags.block === "bottleneck") {
    const strided = w.blocks.find((b) => blockStride(b) > 1);
    if (strided) strideConv = (strided.strides[0] ?? 1) > 1 ? "1x1" : "3x3";
  }
  const convs = w.assigned.filter((a) => a.layer.kind === "conv");
  const biased = (a: { layer: SourceLayer }) => a.layer.weights.bias !== undefined;
  // Whether a BatchNorm reads the conv's output directly.
  const mainConvs = w.blocks[0].mainKernels.length;
  const feedsBn = (role: Role): boolean => {
    switch (role.key) {
      case "stemConv":
        return w.flags.stemNorm;
      case "shortcutConv":
        return !w.flags.preact;
      case "conv":
        return !w.flags.preact || role.index < mainConvs;
      default:
        return true;
    }
  };
  const normalised = convs.map((a) => feedsBn(a.role));
  // Biases in front of a BatchNorm fold into its mean, so only biases that feed no BN decide.
  const unnormalisedBiased = convs.every((a, k) => normalised[k] || biased(a));
  let convBias: ResNetSpec["convBias"] = "none";
  if (w.bnFolded) convBias = w.flags.preact ? "unnormalized" : "none";
  else if (convs.every(biased)) convBias = "all";
  else if (unnormalisedBiased && convs.some((_, k) => !normalised[k])) convBias = "unnormalized";
  const firstBn = w.assigned.find((a) => a.layer.kind === "bn")?.layer;
  const shortcut = w.blocks.some((b) => b.inChannels !== b.outChannels && !b.projection)
    ? "optionA"
    : "projection";
  const structure: Omit<ResNetSpec, "name" | "naming"> = {
    stem: stemKernel === 7 ? "imagenet" : "cifar",
    stemWidth: channelsOf(w.stem).out,
    block: w.flags.block,
    depths: stages.map((b) => b.length),
    widths: stages.map((b) => b[0].width),
    expansion,
    stageStrides,
    strideBlock,
    strideConv: w.flags.block === "basic" ? "3x3" : strideConv,
    preact: w.flags.preact,
    stemNorm: w.flags.stemNorm,
    inputBn: w.flags.inputBn,
    shortcut,
    convBias,
    bnEpsilon: firstBn?.epsilon ?? defaults.bnEpsilon,
    poolPadding: "zeros",
    classes: w.dense ? w.dense.weights.kernel!.shape[1] : 0,
  };
  const same = (spec: ResNetSpec) =>
    (Object.keys(structure) as (keyof typeof structure)[]).every((k) =>
      k === "bnEpsilon"
        ? Math.abs(spec.bnEpsilon - structure.bnEpsilon) < 1e-9
        : JSON.stringify(spec[k]) === JSON.stringify(structure[k])
    );
  const preset = Object.values(PRESETS).find(same);
  if (preset) return preset;
  const naming = structure.stem === "cifar" && defaults.naming === TORCHVISION_NAMES
    ? CIFAR_NAMES
    : defaults.naming;
  const depth = 2 +
    structure.depths.reduce((a, b) => a + b, 0) * (structure.block === "basic" ? 2 : 3);
  return { ...structure, name: `resnet${depth}_custom`, naming };
}

function targetName(role: Role, naming: NamingScheme): string {
  switch (role.key) {
    case "conv":
    case "bn":
      return layerName(naming[role.key], role.stage, role.block, role.index);
    case "preactBn":
    case "shortcutConv":
    case "shortcutBn":
      return layerName(naming[role.key], role.stage, role.block);
    default:
      return naming[role.key];
  }
}

/** Builds the zoo weight map of a walk for `spec`, moving biases the spec has no place for. */
function weightsOf(w: Walk, spec: ResNetSpec, file: string): WeightMap {
  const plan = planResNet(spec, { includeTop: w.dense !== null, classes: spec.classes });
  const weights: WeightMap = new Map();
  const sources = new Map<string, SourceLayer>();
  for (const a of w.assigned) sources.set(targetName(a.role, spec.naming), a.layer);
  const set = (name: string, data: Float32Array, shape = [data.length]) =>
    weights.set(name, { shape, data });
  plan.nodes.forEach((node) => {
    if (node.op === "conv" || node.op === "dense") {
      const source = sources.get(node.name);
      if (!source) throw new ZooFormatError(file, `no source layer maps to '${node.name}'`);
      weights.set(`${node.name}/kernel`, source.weights.kernel!);
      const bias = source.weights.bias;
      if (node.op === "dense") {
        if (!bias) throw new ZooFormatError(file, `dense '${source.name}' has no bias`);
        weights.set(`${node.name}/bias`, bias);
      } else if (node.bias) {
        set(`${node.name}/bias`, bias?.data ?? new Float32Array(node.outChannels));
      } else if (bias && !plan.nodes.some((n) => n.op === "bn" && plan.nodes[n.input] === node)) {
        throw new ZooFormatError(
          file,
          `conv '${source.name}' has a bias that '${spec.name}' has no place for`,
        );
      }
    } else if (node.op === "bn") {
      const source = sources.get(node.name);
      const producer = plan.nodes[node.input];
      const conv = producer.op === "conv" ? producer : null;
      // A conv bias the spec has no place for moves into the BN that follows it.
      const movedBias = conv && !conv.bias ? sources.get(conv.name)?.weights.bias?.data : undefined;
      if (!source) {
        if (!conv || !w.bnFolded) {
          throw new ZooFormatError(file, `no BatchNorm in the file maps to '${node.name}'`);
        }
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

const hypotheses: Flags[] = (["bottleneck", "basic"] as const).flatMap((block) =>
  [false, true].flatMap((preact) =>
    [!preact, preact].flatMap((stemNorm) =>
      [false, true].map((inputBn) => ({ block, preact, stemNorm, inputBn }))
    )
  )
);

/**
 * Infers the ResNet in a list of source layers and returns its spec and zoo weights.
 * When nothing fits, the error names the layer where the best hypothesis broke and what it expected.
 *
 * @example
 * ```ts
 * // const { spec } = inferResNet(layers, { file: "resnet20.th", defaults: PYTORCH_DEFAULTS });
 * // spec.name === "cifar_resnet20"
 * ```
 */
export function inferResNet(layers: SourceLayer[], options: InferOptions): InferredResNet {
  const candidates = options.arch
    ? [{
      block: options.arch.block,
      preact: options.arch.preact,
      stemNorm: options.arch.stemNorm,
      inputBn: options.arch.inputBn,
    }]
    : hypotheses.filter((h) => options.preact === undefined || h.preact === options.preact);
  let best: MismatchError | null = null;
  for (const flags of candidates) {
    let walked: Walk;
    try {
      walked = walk(layers, flags, options.defaults.projectionFirst);
    } catch (error) {
      if (!(error instanceof MismatchError)) throw error;
      if (!best || error.position > best.position) best = error;
      continue;
    }
    const inferred = specOf(walked, options);
    if (!options.arch) {
      return { spec: inferred, weights: weightsOf(walked, inferred, options.file) };
    }
    const spec = { ...options.arch, classes: inferred.classes || options.arch.classes };
    try {
      return { spec, weights: weightsOf(walked, spec, options.file) };
    } catch (error) {
      const reason = (error as Error).message.replace(`${options.file}: `, "");
      throw new ZooFormatError(
        options.file,
        `does not match '${spec.name}': ${reason} (the file has depths [${inferred.depths}], widths [${inferred.widths}])`,
      );
    }
  }
  throw new NotZooResNetError(
    options.file,
    `not a ResNet this zoo knows${options.arch ? ` as '${options.arch.name}'` : ""}: ${
      best?.message ?? "no layers"
    }`,
  );
}
