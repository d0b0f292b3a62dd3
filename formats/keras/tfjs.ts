/**
 * TensorFlow.js layers models: a `model.json` (model topology and weights manifest) and the binary
 * weight shards beside it, float32 or quantized (uint8, uint16, float16) as tfjs-converter writes
 * them.
 *
 * @example
 * ```ts
 * import { readShards, readTfjsLayers } from "./tfjs.ts";
 * const path = "testdata/fixtures/keras_reader/tfjs/model.json";
 * const json = await Deno.readFile(path);
 * const [kernel, bias] = readTfjsLayers(json, path, readShards(json, path)).layers[0].weights;
 * console.log(kernel.shape, bias.shape); // [ 3, 3, 2, 4 ] [ 4 ]
 * ```
 *
 * @module
 */

import { ZooFormatError } from "../../arch/errors.ts";
import { float16BitsToFloat32 } from "../float16.ts";
import type { NamedTensor } from "../tensor.ts";
import {
  configClassName,
  configLayerName,
  configLayers,
  describeJson,
  isObject,
  type JsonObject,
  parseJsonObject,
} from "./config.ts";
import type { KerasFile } from "./types.ts";

/**
 * Reads a tfjs layers `model.json` with its weight shards: the model config from its
 * `modelTopology`, the weights from the shards its `weightsManifest` lists, assigned to the layers
 * whose names prefix them.
 *
 * @param bytes The `model.json`'s contents.
 * @param file The file named in errors.
 * @param shards The shards' bytes by the paths the manifest lists ({@link readShards} reads them).
 * @throws {ZooFormatError} For graph models, missing or short shards, and malformed entries.
 *
 * @example
 * ```ts
 * import { readShards, readTfjsLayers } from "./tfjs.ts";
 * const path = "testdata/fixtures/keras_reader/tfjs/model.json";
 * const json = await Deno.readFile(path);
 * const model = readTfjsLayers(json, path, readShards(json, path));
 * const names = model.layers.map((layer) => layer.name);
 * console.log(model.format, names); // tfjs-layers [ "stem_conv", "stem_bn", "logits" ]
 * ```
 */
export function readTfjsLayers(
  bytes: Uint8Array,
  file: string,
  shards: Map<string, Uint8Array> | undefined,
): KerasFile {
  const model = parseJsonObject(new TextDecoder().decode(bytes), file, "model.json");
  if (model.format !== undefined && model.format !== "layers-model") {
    throw new ZooFormatError(
      file,
      `format ${
        describeJson(model.format)
      } is not a tfjs layers model; graph models have no Keras layers`,
    );
  }
  const topology = model.modelTopology;
  if (!isObject(topology)) throw new ZooFormatError(file, "model.json has no modelTopology object");
  const modelConfig = isObject(topology.model_config) ? topology.model_config : topology;
  const entries = configLayers(modelConfig);
  if (!entries) {
    throw new ZooFormatError(file, "modelTopology has no list of layers (config.layers)");
  }
  const manifest = model.weightsManifest;
  if (!Array.isArray(manifest) || !manifest.every(isObject)) {
    throw new ZooFormatError(file, "model.json has no weightsManifest list");
  }
  if (!shards) {
    throw new ZooFormatError(file, "a tfjs model.json needs its weight shards in options.shards");
  }
  const listedShards = new Set<string>();
  const tensors = manifest.flatMap((group, index) =>
    readManifestGroup(group, index, shards, listedShards, file)
  );

  const weightsByLayer = new Map<string, NamedTensor[]>(
    entries.map((entry) => [configLayerName(entry, file), []]),
  );
  // Longest match first, so that weights of a layer `a/b` are not taken by a layer `a`.
  const layerNames = [...weightsByLayer.keys()].sort((a, b) => b.length - a.length);
  for (const tensor of tensors) {
    const owner = layerNames.find((name) => tensor.name.startsWith(`${name}/`));
    if (owner === undefined) {
      throw new ZooFormatError(
        file,
        `weight '${tensor.name}' belongs to no layer of modelTopology`,
      );
    }
    weightsByLayer.get(owner)!.push(tensor);
  }
  const { keras_version: kerasVersion, backend } = topology;
  return {
    format: "tfjs-layers",
    ...(typeof kerasVersion === "string" ? { kerasVersion } : {}),
    ...(typeof backend === "string" ? { backend } : {}),
    modelConfig,
    layers: entries.flatMap((entry) => {
      const name = configLayerName(entry, file);
      const weights = weightsByLayer.get(name)!;
      return weights.length > 0 ? [{ name, className: configClassName(entry, file), weights }] : [];
    }),
  };
}

/**
 * One manifest group: its shards concatenated in order, its weights read one after another.
 * `listedShards` collects the shards of all groups, none of which may be listed twice.
 */
function readManifestGroup(
  group: JsonObject,
  index: number,
  shards: Map<string, Uint8Array>,
  listedShards: Set<string>,
  file: string,
): NamedTensor[] {
  const { paths, weights } = group;
  if (!Array.isArray(paths) || !paths.every((path) => typeof path === "string")) {
    throw new ZooFormatError(file, `weightsManifest[${index}].paths is not a list of file names`);
  }
  if (!Array.isArray(weights) || !weights.every(isObject)) {
    throw new ZooFormatError(
      file,
      `weightsManifest[${index}].weights is not a list of weight specs`,
    );
  }
  const parts = paths.map((path) => {
    // Each shard holds its own weights; one listed a million times would be copied as often.
    if (listedShards.has(path)) {
      throw new ZooFormatError(file, `shard '${path}' is listed twice in weightsManifest`);
    }
    listedShards.add(path);
    const shard = shards.get(path);
    if (!shard) {
      throw new ZooFormatError(file, `shard '${path}' of weightsManifest[${index}] was not given`);
    }
    return shard;
  });
  const data = new Uint8Array(parts.reduce((total, part) => total + part.length, 0));
  let shardStart = 0;
  for (const part of parts) {
    data.set(part, shardStart);
    shardStart += part.length;
  }
  let offset = 0;
  return weights.map((spec) => {
    const tensor = decodeTfjsWeight(spec, data, offset, file);
    offset += tensor.byteLength;
    return tensor.tensor;
  });
}

/** Bytes per element of the quantized encodings tfjs-converter writes. */
const TFJS_QUANTIZED_BYTES: Record<string, number> = { uint8: 1, uint16: 2, float16: 2 };

function decodeTfjsWeight(
  spec: JsonObject,
  data: Uint8Array,
  offset: number,
  file: string,
): { tensor: NamedTensor; byteLength: number } {
  const { name, shape, dtype, quantization } = spec;
  if (typeof name !== "string") {
    throw new ZooFormatError(file, "a weightsManifest entry has no name");
  }
  if (!Array.isArray(shape) || !shape.every((dim) => Number.isSafeInteger(dim) && dim >= 0)) {
    throw new ZooFormatError(file, `weight '${name}' has an invalid shape`);
  }
  if (dtype !== "float32") {
    throw new ZooFormatError(
      file,
      `weight '${name}' has dtype ${describeJson(dtype)}; only float32 weights are read`,
    );
  }
  if (quantization !== undefined && !isObject(quantization)) {
    throw new ZooFormatError(file, `weight '${name}' has an invalid quantization entry`);
  }
  const encoding = quantization === undefined ? "float32" : quantization.dtype;
  const bytesPerElement = encoding === "float32"
    ? 4
    : typeof encoding === "string" && Object.hasOwn(TFJS_QUANTIZED_BYTES, encoding)
    ? TFJS_QUANTIZED_BYTES[encoding]
    : undefined;
  if (bytesPerElement === undefined) {
    throw new ZooFormatError(
      file,
      `weight '${name}' uses unsupported quantization ${describeJson(encoding)}`,
    );
  }
  const count = shape.reduce((product: number, dim: number) => product * dim, 1);
  const byteLength = count * bytesPerElement;
  const end = offset + byteLength;
  if (end > data.length) {
    throw new ZooFormatError(
      file,
      `weight '${name}' needs bytes ${offset}..${end} but its shards hold ${data.length} bytes`,
    );
  }
  // A copy starts at offset 0 of its own buffer, so the typed views below are aligned.
  const raw = data.slice(offset, end);
  let values: Float32Array;
  if (encoding === "float32") {
    values = new Float32Array(raw.buffer);
  } else if (encoding === "float16") {
    values = float16BitsToFloat32(new Uint16Array(raw.buffer));
  } else {
    const { scale, min } = quantization as JsonObject;
    if (typeof scale !== "number" || typeof min !== "number") {
      throw new ZooFormatError(
        file,
        `weight '${name}' is ${encoding}-quantized without numeric scale and min`,
      );
    }
    const levels = encoding === "uint8" ? raw : new Uint16Array(raw.buffer);
    values = Float32Array.from(levels, (level) => level * scale + min);
  }
  return { tensor: { name, shape, dtype: "float32", data: values }, byteLength };
}

/**
 * The shard files a tfjs model.json lists, read from beside it; a missing one is named.
 *
 * @example
 * ```ts
 * const path = "testdata/fixtures/keras_reader/tfjs/model.json";
 * const shards = readShards(await Deno.readFile(path), path);
 * console.log([...shards.keys()]); // [ "group1-shard1of2.bin", "group1-shard2of2.bin" ]
 * ```
 */
export function readShards(modelJson: Uint8Array, file: string): Map<string, Uint8Array> {
  const dir = file.includes("/") ? file.slice(0, file.lastIndexOf("/") + 1) : "";
  const manifest =
    JSON.parse(new TextDecoder().decode(modelJson)).weightsManifest as { paths: string[] }[] ?? [];
  const shards = new Map<string, Uint8Array>();
  for (const path of manifest.flatMap((group) => group.paths)) {
    try {
      shards.set(path, Deno.readFileSync(dir + path));
    } catch {
      throw new ZooFormatError(file, `weight shard '${path}' listed in the manifest is missing`);
    }
  }
  return shards;
}
