/**
 * The zoo's own weights file: one safetensors file whose tensors are the zoo weight map
 * (`layer/param`, HWIO kernels) and whose `__metadata__` records everything needed to use
 * it: the architecture spec, preprocessing, label set and provenance.
 *
 * Metadata keys (all strings, as safetensors requires):
 * - `format`: `denozoo/1`
 * - `denozoo.spec`: the {@link ResNetSpec} as JSON (naming scheme included)
 * - `denozoo.preprocess`, `denozoo.labels` or `denozoo.class_names`: how to use the model, its
 *   preprocessing and class names (optional; see `usage_metadata.ts`, which ONNX exports share;
 *   class names are like transformers.js's `id2label`)
 * - `denozoo.source`, `denozoo.source_sha256`, `denozoo.source_format`: provenance (optional)
 * - `denozoo.converter`: the converter and version that wrote the file
 * - `denozoo.dtype`: `float16` or `int8` when the weights are stored so (absent: float32). float16
 *   stores every tensor as F16; int8 stores each conv and dense kernel as I8 beside a float32
 *   `<kernel>_scale` tensor, one scale per output channel (symmetric), the rest as F32
 * - `denozoo.calibration` (int8 only, optional): `{"method": "minmax", "images": N, "sha256": …,
 *   "ranges": [[node, min, max], …]}`, the activation ranges onnxruntime's int8 kernels need,
 *   measured on N calibration images (see `convert/quantize.ts`)
 *
 * Readers check every field against these types (`ResNetSpec`, `PreprocessSpec`, `Labels`)
 * and refuse a corrupt or unknown one with a `ZooFormatError` naming the file and the field
 * (see `metadata_rules.ts`); class names must number the spec's classes.
 *
 * @example
 * ```ts
 * import { readZooWeights, writeZooWeights } from "./zoofile.ts";
 * import { createModel } from "../runtime/model.ts";
 * const model = createModel("cifar_resnet20");
 * const bytes = writeZooWeights(model.spec, model.weights, { labels: "cifar10" });
 * console.log(readZooWeights(bytes, "m.safetensors").spec.name); // "cifar_resnet20"
 * ```
 *
 * @module
 */

import {
  type NamingScheme,
  type ResNetSpec,
  SPEC_CHOICES,
  SPEC_DEFAULTS,
  TORCHVISION_NAMES,
} from "../arch/spec.ts";
import type { PreprocessSpec } from "../arch/preprocess.ts";
import type { Labels } from "../arch/labels.ts";
import { planResNet } from "../arch/plan.ts";
import { checkWeights, type WeightMap } from "../arch/weights.ts";
import {
  readSafetensors,
  readSafetensorsHeader,
  safetensorsChunks,
} from "../formats/safetensors.ts";
import { type FileChunk, joinChunks } from "../formats/files.ts";
import {
  type Calibration,
  quantizedNodes,
  restoredWeights,
  storedTensors,
  WEIGHTS_DTYPES,
  type WeightsDType,
} from "./quantize.ts";
import { ZooFormatError } from "../arch/errors.ts";
import {
  fieldProblem,
  FLAG,
  isCount,
  isNumber,
  listOf,
  oneOf,
  optional,
  parseField,
  POSITIVE,
  type Rule,
  TEXT,
} from "./metadata_rules.ts";
import { readUsageMetadata, usageMetadata } from "./usage_metadata.ts";

/** Version of the converter recorded in files it writes. */
export const CONVERTER_VERSION = "denozoo 0.1.0";

/**
 * Optional facts stored beside the weights.
 *
 * @example
 * ```ts
 * import { readZooHeader, type ZooFileInfo } from "./zoofile.ts";
 * const info: ZooFileInfo = await readZooHeader("models/cifar_resnet20.safetensors");
 * console.log(info.labels, info.sourceFormat); // cifar10 pytorch-legacy
 * ```
 */
export interface ZooFileInfo {
  /** Preprocessing the weights were trained with, stored as JSON. */
  preprocess?: PreprocessSpec;
  /** The classifier's class names: a label set the zoo knows, or the names themselves. */
  labels?: Labels;
  /** Source file name the weights came from. */
  source?: string;
  /** sha256 of the source file. */
  sourceSha256?: string;
  /** Format of the source file. */
  sourceFormat?: string;
  /** Precision of the stored weights (default float32); they are float32 once read. */
  dtype?: WeightsDType;
  /** For int8 weights: the activation ranges onnxruntime's int8 kernels need. */
  calibration?: Calibration;
}

/**
 * A zoo weights file in memory.
 *
 * @example
 * ```ts
 * import { readZooWeights, type ZooWeightsFile } from "./zoofile.ts";
 * const path = "models/cifar_resnet20.safetensors";
 * const file: ZooWeightsFile = readZooWeights(await Deno.readFile(path), path);
 * console.log(file.spec.name, file.weights.size); // cifar_resnet20 116
 * ```
 */
export interface ZooWeightsFile extends ZooFileInfo {
  /** The architecture. */
  spec: ResNetSpec;
  /** Weights in the zoo layout. */
  weights: WeightMap;
  /** Converter that wrote the file. */
  converter?: string;
}

/**
 * A zoo safetensors file for a spec and its weights, as chunks to write in order: the header,
 * then a view of each weight (no copy), or for a weight whose layout change is deferred a
 * `DeferredChunk` that produces it on the way to the disk (see `safetensorsChunks`).
 *
 * @example
 * ```ts
 * import { getSpec } from "../arch/presets.ts";
 * import { planResNet } from "../arch/plan.ts";
 * import { initialWeights } from "../arch/weights.ts";
 * import { writeAtomically } from "../formats/files.ts";
 * const spec = getSpec("cifar_resnet20");
 * const path = await Deno.makeTempFile({ suffix: ".safetensors" });
 * await writeAtomically(path, zooWeightsChunks(spec, initialWeights(planResNet(spec)), { labels: "cifar10" }));
 * console.log((await readZooHeader(path)).labels); // "cifar10"
 * await Deno.remove(path);
 * ```
 */
export function zooWeightsChunks(
  spec: ResNetSpec,
  weights: WeightMap,
  info: ZooFileInfo = {},
): FileChunk[] {
  const metadata: Record<string, string> = {
    format: "denozoo/1",
    "denozoo.spec": JSON.stringify(spec),
    "denozoo.converter": CONVERTER_VERSION,
  };
  Object.assign(metadata, usageMetadata(info, spec.classes, spec.name));
  if (info.source) metadata["denozoo.source"] = info.source;
  if (info.sourceSha256) metadata["denozoo.source_sha256"] = info.sourceSha256;
  if (info.sourceFormat) metadata["denozoo.source_format"] = info.sourceFormat;
  const dtype = info.dtype ?? "float32";
  if (dtype !== "float32") metadata["denozoo.dtype"] = dtype;
  if (info.calibration) {
    if (dtype !== "int8") throw new RangeError("calibration ranges belong to int8 weights only");
    const { ranges, ...rest } = info.calibration;
    metadata["denozoo.calibration"] = JSON.stringify({
      ...rest,
      ranges: ranges.map(({ node, min, max }) => [node, min, max]),
    });
  }
  const includeTop = weights.has(`${spec.naming.dense}/kernel`);
  const tensors = storedTensors(planResNet(spec, { includeTop }), weights, dtype);
  return safetensorsChunks(tensors, metadata);
}

/**
 * Serialises a spec and its weights as a zoo safetensors file in one byte array.
 *
 * @example
 * ```ts
 * import { getSpec } from "../arch/presets.ts";
 * import { planResNet } from "../arch/plan.ts";
 * import { initialWeights } from "../arch/weights.ts";
 * import { TORCHVISION_V1 } from "../arch/preprocess.ts";
 * const spec = getSpec("resnet18");
 * const bytes = writeZooWeights(spec, initialWeights(planResNet(spec)), {
 *   preprocess: TORCHVISION_V1,
 *   labels: "imagenet",
 * });
 * console.log(readZooWeights(bytes, "resnet18.safetensors").preprocess); // { resize: 256, crop: 224, mode: "torch" }
 * ```
 */
export function writeZooWeights(
  spec: ResNetSpec,
  weights: WeightMap,
  info: ZooFileInfo = {},
): Uint8Array {
  return joinChunks(zooWeightsChunks(spec, weights, info));
}

// --- Reading the metadata back ------------------------------------------------------------
//
// The metadata decides how a file is run (its spec is planned, its preprocessing applied, its
// labels printed), so every field is checked on read: a corrupt value or a field this version
// does not know is refused with the field's name, not trusted.

const PER_STAGE: Rule = {
  what: "a non-empty list of positive integers",
  ok: (v) => listOf(v, (n) => isCount(n, 1)),
};
const NAMES = (length: number): Rule => ({
  what: `a list of ${length} strings`,
  ok: (v) => listOf(v, (n) => typeof n === "string", length),
});

/** The naming scheme's fields: every template a string. */
const NAMING_RULES: { readonly [K in keyof NamingScheme]-?: Rule } = {
  id: TEXT,
  stemConv: TEXT,
  stemBn: TEXT,
  inputBn: TEXT,
  conv: TEXT,
  bn: TEXT,
  preactBn: TEXT,
  shortcutConv: TEXT,
  shortcutBn: TEXT,
  postBn: TEXT,
  dense: TEXT,
  countsStatistics: FLAG,
  // Added with deep stems and attention; files written before them read with NAMING_DEFAULTS.
  stemPool: optional(TEXT),
  deepStemConvs: optional(NAMES(3)),
  deepStemBns: optional(NAMES(2)),
  seConv: optional(TEXT),
  ecaConv: optional(TEXT),
};

/** What a naming scheme without the later templates means by them (they name no layer of its net). */
const NAMING_DEFAULTS: Pick<
  NamingScheme,
  "stemPool" | "deepStemConvs" | "deepStemBns" | "seConv" | "ecaConv"
> = {
  stemPool: TORCHVISION_NAMES.stemPool,
  deepStemConvs: TORCHVISION_NAMES.deepStemConvs,
  deepStemBns: TORCHVISION_NAMES.deepStemBns,
  seConv: TORCHVISION_NAMES.seConv,
  ecaConv: TORCHVISION_NAMES.ecaConv,
};

/** The spec's fields, typed by `ResNetSpec` so that a new field cannot be forgotten here. */
const SPEC_RULES: { readonly [K in keyof ResNetSpec]-?: Rule } = {
  name: TEXT,
  stem: oneOf(...SPEC_CHOICES.stem),
  stemWidth: POSITIVE,
  block: oneOf("basic", "bottleneck"),
  depths: PER_STAGE,
  widths: PER_STAGE,
  expansion: POSITIVE,
  stageStrides: PER_STAGE,
  strideBlock: oneOf("first", "last"),
  strideConv: oneOf("1x1", "3x3"),
  preact: FLAG,
  stemNorm: FLAG,
  inputBn: FLAG,
  shortcut: oneOf("projection", "optionA"),
  // Fields added later: a file written before them reads with SPEC_DEFAULTS.
  shortcutSubsample: optional(oneOf(...SPEC_CHOICES.shortcutSubsample)),
  shortcutPad: optional(oneOf(...SPEC_CHOICES.shortcutPad)),
  groups: optional(POSITIVE),
  baseWidth: optional(POSITIVE),
  avgDown: optional(FLAG),
  projectEveryStage: optional(FLAG),
  attention: optional(oneOf(...SPEC_CHOICES.attention)),
  attentionAt: optional(oneOf(...SPEC_CHOICES.attentionAt)),
  seReduction: optional({ what: "a positive number", ok: (v) => isNumber(v) && (v as number) > 0 }),
  seDivisor: optional(POSITIVE),
  norm: optional(oneOf(...SPEC_CHOICES.norm)),
  normGroups: optional(POSITIVE),
  weightStandardization: optional({
    what: "a number of at least 0",
    ok: (v) => isNumber(v) && (v as number) >= 0,
  }),
  convBias: oneOf("all", "none", "unnormalized"),
  bnEpsilon: { what: "a positive number", ok: (v) => isNumber(v) && (v as number) > 0 },
  poolPadding: oneOf("zeros", "same"),
  // A feature extractor without a classifier has none.
  classes: { what: "an integer of at least 0", ok: (v) => isCount(v, 0) },
  naming: { what: "an object", ok: (v) => typeof v === "object" && v !== null },
};

/** One stored activation range: `[plan node, min, max]`, min ≤ max. */
const isStoredRange = (v: unknown) =>
  Array.isArray(v) && v.length === 3 && isCount(v[0], 0) && isNumber(v[1]) && isNumber(v[2]) &&
  v[1] <= v[2];

/** The calibration record as stored (ranges as `[node, min, max]` triples). */
const CALIBRATION_RULES: { readonly [K in keyof Calibration]-?: Rule } = {
  method: oneOf("minmax"),
  images: POSITIVE,
  sha256: { what: "64 lower-case hex digits", ok: (v) => /^[0-9a-f]{64}$/.test(String(v)) },
  ranges: {
    what: "a non-empty list of [node, min, max] with min ≤ max",
    ok: (v) => listOf(v, isStoredRange),
  },
};

/** What is wrong with a parsed spec, if anything. */
function specProblem(value: unknown): string | undefined {
  const found = fieldProblem(value, SPEC_RULES) ??
    fieldProblem((value as ResNetSpec).naming, NAMING_RULES, "naming.");
  if (found) return found;
  const spec = value as ResNetSpec;
  if (
    spec.widths.length !== spec.depths.length || spec.stageStrides.length !== spec.depths.length
  ) {
    return "fields 'depths', 'widths' and 'stageStrides' must have one entry per stage";
  }
  if (spec.block === "basic" && (spec.groups ?? 1) !== 1) {
    return "field 'groups' must be 1 for basic blocks";
  }
  return undefined;
}

/** Parses the metadata of a zoo file, refusing any field that is corrupt or unknown. */
function zooMetadata(metadata: unknown, file: string): Omit<ZooWeightsFile, "weights"> {
  const record = (typeof metadata === "object" && metadata !== null ? metadata : {}) as Record<
    string,
    unknown
  >;
  if (record.format !== "denozoo/1" || !record["denozoo.spec"]) {
    throw new ZooFormatError(
      file,
      "safetensors file without denozoo metadata (convert it with `cli.ts convert`)",
    );
  }
  for (const [key, value] of Object.entries(record)) {
    if (typeof value !== "string") {
      throw new ZooFormatError(file, `metadata '${key.slice(0, 100)}' is not a string`);
    }
  }
  const strings = record as Record<string, string>;
  const spec = parseField<ResNetSpec>(strings, "denozoo.spec", file, specProblem);
  const dtype = strings["denozoo.dtype"] ?? "float32";
  if (!WEIGHTS_DTYPES.includes(dtype as WeightsDType)) {
    throw new ZooFormatError(
      file,
      `metadata 'denozoo.dtype': must be one of ${WEIGHTS_DTYPES.join(", ")}, got ` +
        JSON.stringify(dtype.slice(0, 100)),
    );
  }
  let calibration: Calibration | undefined;
  if (strings["denozoo.calibration"] !== undefined) {
    if (dtype !== "int8") {
      throw new ZooFormatError(file, "metadata 'denozoo.calibration' belongs to int8 files only");
    }
    const stored = parseField<Omit<Calibration, "ranges"> & { ranges: number[][] }>(
      strings,
      "denozoo.calibration",
      file,
      (value) => fieldProblem(value, CALIBRATION_RULES),
    );
    calibration = {
      ...stored,
      ranges: stored.ranges.map(([node, min, max]) => ({ node, min, max })),
    };
  }
  return {
    // A file written before a field existed means what the zoo then computed: SPEC_DEFAULTS.
    spec: { ...SPEC_DEFAULTS, ...spec, naming: { ...NAMING_DEFAULTS, ...spec.naming } },
    ...readUsageMetadata(strings, spec.classes, file),
    source: strings["denozoo.source"],
    sourceSha256: strings["denozoo.source_sha256"],
    sourceFormat: strings["denozoo.source_format"],
    converter: strings["denozoo.converter"],
    dtype: dtype as WeightsDType,
    calibration,
  };
}

/**
 * Reads only the header of a zoo file on disk (spec, preprocessing, labels, provenance),
 * not its tensors.
 *
 * @example
 * ```ts
 * const header = await readZooHeader("models/cifar_resnet20.safetensors");
 * console.log(header.spec.name); // "cifar_resnet20"
 * ```
 */
export async function readZooHeader(path: string): Promise<Omit<ZooWeightsFile, "weights">> {
  return zooMetadata((await readSafetensorsHeader(path)).metadata, path);
}

/**
 * Reads a zoo safetensors file and checks its tensors against its spec. The weights are views of
 * `bytes` where they lie 4-aligned, as in every file the zoo writes (no copy of the model), so
 * leave `bytes` unchanged while the weights are in use.
 *
 * @example
 * ```ts
 * const file = readZooWeights(await Deno.readFile("models/cifar_resnet20.safetensors"), "cifar_resnet20.safetensors");
 * console.log(file.labels); // "cifar10"
 * ```
 */
export function readZooWeights(bytes: Uint8Array, file: string): ZooWeightsFile {
  const { tensors, metadata } = readSafetensors(bytes, file);
  const info = zooMetadata(metadata, file);
  const spec = info.spec;
  const weights = restoredWeights(tensors, info.dtype ?? "float32", file);
  const includeTop = weights.has(`${spec.naming.dense}/kernel`);
  const plan = planResNet(spec, { includeTop });
  try {
    checkWeights(plan, weights, file);
  } catch (error) {
    throw new ZooFormatError(file, (error as Error).message.replace(`${file}: `, ""));
  }
  if (info.calibration) {
    // One range for each activation the int8 graph quantizes, no more and no fewer.
    const expected = quantizedNodes(plan).join();
    const found = info.calibration.ranges.map((r) => r.node).join();
    if (found !== expected) {
      throw new ZooFormatError(
        file,
        `metadata 'denozoo.calibration': ranges for nodes [${found.slice(0, 100)}], ` +
          `expected [${expected.slice(0, 100)}]`,
      );
    }
  }
  return { ...info, weights };
}
