/**
 * The zoo's own weights file: one safetensors file whose tensors are the zoo weight map
 * (`layer/param`, HWIO kernels) and whose `__metadata__` records everything needed to use
 * it: the architecture spec, preprocessing, label set and provenance.
 *
 * Metadata keys (all strings, as safetensors requires):
 * - `format`: `denozoo/1`
 * - `denozoo.spec`: the {@link ResNetSpec} as JSON (naming scheme included)
 * - `denozoo.preprocess`: the preprocessing as JSON (optional)
 * - `denozoo.labels`: `imagenet` | `cifar10` (optional)
 * - `denozoo.source`, `denozoo.source_sha256`, `denozoo.source_format`: provenance (optional)
 * - `denozoo.converter`: the converter and version that wrote the file
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

import type { ResNetSpec } from "../arch/spec.ts";
import { planResNet } from "../arch/plan.ts";
import { checkWeights, type WeightMap } from "../arch/weights.ts";
import { readSafetensors, safetensorsChunks } from "../formats/safetensors.ts";
import { type FileChunk, joinChunks } from "../formats/files.ts";
import { alignedFloat32View } from "../formats/raw.ts";
import type { NamedTensor } from "../formats/tensor.ts";
import { ZooFormatError } from "../arch/errors.ts";

/** Version of the converter recorded in files it writes. */
export const CONVERTER_VERSION = "denozoo 0.1.0";

/** Optional facts stored beside the weights. */
export interface ZooFileInfo {
  /** Preprocessing the weights were trained with (a `PreprocessSpec`), stored as JSON. */
  preprocess?: unknown;
  /** Label set of the classifier. */
  labels?: string;
  /** Source file name the weights came from. */
  source?: string;
  /** sha256 of the source file. */
  sourceSha256?: string;
  /** Format of the source file. */
  sourceFormat?: string;
}

/** A zoo weights file in memory. */
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
 * // await writeAtomically("model.safetensors", zooWeightsChunks(spec, weights, { labels: "imagenet" }));
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
  if (info.preprocess !== undefined) {
    metadata["denozoo.preprocess"] = JSON.stringify(info.preprocess);
  }
  if (info.labels) metadata["denozoo.labels"] = info.labels;
  if (info.source) metadata["denozoo.source"] = info.source;
  if (info.sourceSha256) metadata["denozoo.source_sha256"] = info.sourceSha256;
  if (info.sourceFormat) metadata["denozoo.source_format"] = info.sourceFormat;
  const tensors = [...weights].map(([name, w]): NamedTensor => ({
    name,
    shape: w.shape,
    dtype: "float32",
    // Read only for weights in memory: a deferred one is written through `writeInto`.
    get data() {
      return w.data;
    },
    writeInto: w.writeInto,
  }));
  return safetensorsChunks(tensors, metadata);
}

/**
 * Serialises a spec and its weights as a zoo safetensors file in one byte array.
 *
 * @example
 * ```ts
 * // await Deno.writeFile("model.safetensors", writeZooWeights(spec, weights, { labels: "imagenet" }));
 * ```
 */
export function writeZooWeights(
  spec: ResNetSpec,
  weights: WeightMap,
  info: ZooFileInfo = {},
): Uint8Array {
  return joinChunks(zooWeightsChunks(spec, weights, info));
}

/** Parses the metadata of a zoo file. */
function zooMetadata(
  metadata: Record<string, string>,
  file: string,
): Omit<ZooWeightsFile, "weights"> {
  if (metadata.format !== "denozoo/1" || !metadata["denozoo.spec"]) {
    throw new ZooFormatError(
      file,
      "safetensors file without denozoo metadata (convert it with `cli.ts convert`)",
    );
  }
  try {
    return {
      spec: JSON.parse(metadata["denozoo.spec"]),
      preprocess: metadata["denozoo.preprocess"]
        ? JSON.parse(metadata["denozoo.preprocess"])
        : undefined,
      labels: metadata["denozoo.labels"],
      source: metadata["denozoo.source"],
      sourceSha256: metadata["denozoo.source_sha256"],
      sourceFormat: metadata["denozoo.source_format"],
      converter: metadata["denozoo.converter"],
    };
  } catch (error) {
    throw new ZooFormatError(file, `invalid JSON in the metadata: ${(error as Error).message}`);
  }
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
  using file = await Deno.open(path, { read: true });
  const size = (await file.stat()).size;
  const prefix = new Uint8Array(8);
  if (size < 8 || (await file.read(prefix)) !== 8) {
    throw new ZooFormatError(path, "too short for a safetensors header");
  }
  const length = Number(new DataView(prefix.buffer).getBigUint64(0, true));
  if (length > size - 8 || length > 100_000_000) {
    throw new ZooFormatError(path, `header length ${length} does not fit the file (${size} bytes)`);
  }
  const header = new Uint8Array(length);
  for (let read = 0; read < length;) {
    const n = await file.read(header.subarray(read));
    if (n === null) throw new ZooFormatError(path, "truncated header");
    read += n;
  }
  let parsed: Record<string, { data_offsets?: [number, number] }> & {
    __metadata__?: Record<string, string>;
  };
  try {
    parsed = JSON.parse(new TextDecoder().decode(header));
  } catch (error) {
    throw new ZooFormatError(path, `invalid header JSON: ${(error as Error).message}`);
  }
  // A truncated or padded file is damaged even when its header reads.
  const end = Math.max(0, ...Object.values(parsed).map((t) => Number(t?.data_offsets?.[1] ?? 0)));
  if (size !== 8 + length + end) {
    throw new ZooFormatError(
      path,
      `file has ${size} bytes, its header describes ${8 + length + end}`,
    );
  }
  return zooMetadata((parsed.__metadata__ ?? {}) as unknown as Record<string, string>, path);
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
  const weights: WeightMap = new Map();
  for (const t of tensors) {
    if (t.dtype !== "float32") {
      throw new ZooFormatError(file, `tensor '${t.name}' is not float32`);
    }
    // The zoo writes every tensor 4-aligned: view the file's bytes rather than copy 100 MB.
    weights.set(t.name, { shape: t.shape, data: alignedFloat32View(t) ?? t.data as Float32Array });
  }
  const includeTop = weights.has(`${spec.naming.dense}/kernel`);
  try {
    checkWeights(planResNet(spec, { includeTop }), weights, file);
  } catch (error) {
    throw new ZooFormatError(file, (error as Error).message.replace(`${file}: `, ""));
  }
  return { ...info, weights };
}
