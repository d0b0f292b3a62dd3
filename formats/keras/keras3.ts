/**
 * Keras 3 weights: `.keras` zips (`config.json`, `metadata.json`, `model.weights.h5`) and the
 * layout of their `model.weights.h5`, also saved bare as `.weights.h5`. Keras 3 keys layers by
 * class-name counters, not by their names, so the config's layer list maps them back.
 *
 * @example
 * ```ts
 * import { readKerasZip } from "./keras3.ts";
 * const file = "testdata/fixtures/keras_reader/swapped_names.keras";
 * const model = await readKerasZip(await Deno.readFile(file), file);
 * const names = model.layers[0].weights.map((w) => w.name);
 * console.log(model.format, names); // keras3 [ "stem_conv/kernel", "stem_conv/bias" ]
 * ```
 *
 * @module
 */

import { ZooFormatError } from "../../arch/errors.ts";
import {
  configClassName,
  configLayerName,
  configLayers,
  isObject,
  type JsonObject,
  parseJsonObject,
} from "./config.ts";
import { childGroup, type Hdf5Source, hdf5StringAttr, readDataset, withHdf5 } from "./hdf5.ts";
import type { KerasFile, KerasLayerWeights } from "./types.ts";
import type { NamedTensor } from "../tensor.ts";
import { readZip } from "../zip.ts";
import type { Group } from "h5wasm/node";

/** The members of a `.keras` zip this reader uses; the rest (assets/) is not inflated. */
const KERAS_ZIP_MEMBERS: ReadonlySet<string> = new Set([
  "model.weights.h5",
  "config.json",
  "metadata.json",
]);

/**
 * Reads a Keras 3 `.keras` zip: its `model.weights.h5`, laid out by its `config.json`, and the
 * version and backend in its `metadata.json`.
 *
 * @param bytes The zip's contents.
 * @param file The file named in errors.
 * @throws {ZooFormatError} If the zip has no `model.weights.h5` (npz weights are not read), or a
 * member is malformed.
 *
 * @example
 * ```ts
 * import { readKerasZip } from "./keras3.ts";
 * const file = "testdata/fixtures/keras_reader/tiny_functional.keras";
 * const model = await readKerasZip(await Deno.readFile(file), file);
 * console.log(model.layers.map((layer) => layer.name)); // [ "stem_conv", "stem_bn", "head_conv", "logits" ]
 * ```
 */
export async function readKerasZip(bytes: Uint8Array, file: string): Promise<KerasFile> {
  const names: string[] = [];
  const entries = readZip(bytes, file, {
    only: (name) => {
      names.push(name);
      return KERAS_ZIP_MEMBERS.has(name);
    },
  });
  const weights = entries.get("model.weights.h5");
  if (!weights) {
    throw new ZooFormatError(
      file,
      names.includes("model.weights.npz")
        ? "weights are stored as model.weights.npz, which this reader does not support"
        : `zip has no model.weights.h5 (found: ${names.join(", ")})`,
    );
  }
  const jsonMember = (name: string): JsonObject | undefined => {
    const member = entries.get(name);
    return member && parseJsonObject(new TextDecoder().decode(member), file, name);
  };
  const modelConfig = jsonMember("config.json");
  const metadata = jsonMember("metadata.json");
  const kerasVersion = metadata?.keras_version;
  const backend = metadata?.backend;
  const layers = await withHdf5(
    weights,
    `${file}/model.weights.h5`,
    (root, source) => readKeras3Layers(root, source, modelConfig),
  );
  return {
    format: "keras3",
    ...(typeof kerasVersion === "string" ? { kerasVersion } : {}),
    ...(typeof backend === "string" ? { backend } : {}),
    ...(modelConfig ? { modelConfig } : {}),
    layers,
  };
}

/**
 * The group holding the layers of a Keras 3 weights file or nested model; Keras 2.13's `.keras`
 * files used `_layer_checkpoint_dependencies` where Keras 3 uses `layers`.
 */
export function keras3Container(group: Group, source: Hdf5Source): Group | undefined {
  return childGroup(group, "layers", source) ??
    childGroup(group, "_layer_checkpoint_dependencies", source);
}

/**
 * The layers of a Keras 3 weights file: mapped through the model config's layer list where there
 * is one, else named by the file's keys and `vars` name attributes.
 */
export function readKeras3Layers(
  root: Group,
  source: Hdf5Source,
  modelConfig?: JsonObject,
): KerasLayerWeights[] {
  const container = keras3Container(root, source);
  if (!container) {
    throw new ZooFormatError(source.file, "Keras 3 weights file has no 'layers' group");
  }
  // Subclassed models have no layer list in their config: then the keys are all there is.
  const entries = modelConfig && configLayers(modelConfig);
  return entries
    ? mapConfigLayers(container, entries, source)
    : walkContainer(container, "", source);
}

/**
 * Keras 3 keys each layer of a container by its snake_cased class name plus a counter in order of
 * appearance (`conv2d`, `conv2d_1`, …), not by its name; newer versions also put the layer name on
 * the `vars` group, which wins when present.
 */
function mapConfigLayers(
  container: Group,
  entries: JsonObject[],
  source: Hdf5Source,
): KerasLayerWeights[] {
  const keyByLayerName = new Map<string, string>();
  for (const key of container.keys()) {
    const variables = childGroup(container, `${key}/vars`, source);
    const savedName = variables && hdf5StringAttr(variables, "name", source.file);
    if (savedName !== undefined) keyByLayerName.set(savedName, key);
  }
  const classCounts = new Map<string, number>();
  const layers: KerasLayerWeights[] = [];
  for (const entry of entries) {
    // Raw ops (keras.ops.*) in a functional graph are operations, not layers, and have no group.
    if (typeof entry.module === "string" && entry.module.includes(".ops.")) continue;
    const name = configLayerName(entry, source.file);
    const entryClass = configClassName(entry, source.file);
    const base = toSnakeCase(entryClass);
    const seen = classCounts.get(base);
    classCounts.set(base, seen === undefined ? 0 : seen + 1);
    const counterKey = seen === undefined ? base : `${base}_${seen + 1}`;
    const key = keyByLayerName.get(name) ?? counterKey;
    const layerGroup = childGroup(container, key, source);
    if (!layerGroup) {
      throw new ZooFormatError(
        source.file,
        `no group '${container.path}/${key}' for layer '${name}' (${entryClass})`,
      );
    }
    const nested = configLayers(entry);
    if (nested) {
      const nestedContainer = keras3Container(layerGroup, source);
      if (nestedContainer) layers.push(...mapConfigLayers(nestedContainer, nested, source));
      continue;
    }
    const variables = childGroup(layerGroup, "vars", source);
    const savedName = variables && hdf5StringAttr(variables, "name", source.file);
    if (savedName !== undefined && savedName !== name) {
      throw new ZooFormatError(
        source.file,
        `group '${layerGroup.path}' holds layer '${savedName}', expected '${name}' (${entryClass})`,
      );
    }
    const weights = variables ? readVariables(variables, name, variableNames(entry), source) : [];
    if (weights.length > 0) layers.push({ name, className: entryClass, weights });
  }
  return layers;
}

/** Without a config the keys are the only names; the order is by key, counters numerically. */
function walkContainer(container: Group, prefix: string, source: Hdf5Source): KerasLayerWeights[] {
  const layers: KerasLayerWeights[] = [];
  for (const key of container.keys().sort(compareLayerKeys)) {
    const layerGroup = childGroup(container, key, source);
    if (!layerGroup) continue;
    const variables = childGroup(layerGroup, "vars", source);
    if (variables) {
      const name = hdf5StringAttr(variables, "name", source.file) ?? `${prefix}${key}`;
      const weights = readVariables(variables, name, undefined, source);
      if (weights.length > 0) layers.push({ name, weights });
    }
    const nestedContainer = keras3Container(layerGroup, source);
    if (nestedContainer) layers.push(...walkContainer(nestedContainer, `${prefix}${key}/`, source));
  }
  return layers;
}

/** Orders `conv2d`, `conv2d_1`, `conv2d_2`, `conv2d_10` as Keras numbered them. */
function compareLayerKeys(a: string, b: string): number {
  const split = (key: string): [string, number] => {
    const match = /^(.*)_(\d+)$/.exec(key);
    return match ? [match[1], Number(match[2])] : [key, 0];
  };
  const [baseA, counterA] = split(a);
  const [baseB, counterB] = split(b);
  return baseA < baseB ? -1 : baseA > baseB ? 1 : counterA - counterB;
}

/** A layer's `vars/0`, `vars/1`, … as `<layer>/<variable>` tensors (index when the name is unknown). */
function readVariables(
  variables: Group,
  layer: string,
  names: string[] | undefined,
  source: Hdf5Source,
): NamedTensor[] {
  const keys = variables.keys();
  keys.forEach((key, _, all) => {
    if (!/^\d+$/.test(key) || Number(key) >= all.length) {
      throw new ZooFormatError(
        source.file,
        `'${variables.path}' has member '${key}'; expected variables numbered 0..${all.length - 1}`,
      );
    }
  });
  const ordered = keys.sort((a, b) => Number(a) - Number(b));
  const labels = names?.length === ordered.length ? names : ordered;
  return ordered.map((key, i) => readDataset(variables, key, `${layer}/${labels[i]}`, source));
}

/**
 * The variables Keras 3 creates for common layers, in creation order, each with the config flag
 * that omits it when false.
 */
const KERAS3_VARIABLES: Record<string, [variable: string, flag?: string][]> = {
  Conv1D: [["kernel"], ["bias", "use_bias"]],
  Conv2D: [["kernel"], ["bias", "use_bias"]],
  Conv3D: [["kernel"], ["bias", "use_bias"]],
  Conv2DTranspose: [["kernel"], ["bias", "use_bias"]],
  Dense: [["kernel"], ["bias", "use_bias"]],
  DepthwiseConv2D: [["depthwise_kernel"], ["bias", "use_bias"]],
  SeparableConv2D: [["depthwise_kernel"], ["pointwise_kernel"], ["bias", "use_bias"]],
  BatchNormalization: [
    ["gamma", "scale"],
    ["beta", "center"],
    ["moving_mean"],
    ["moving_variance"],
  ],
};

function variableNames(entry: JsonObject): string[] | undefined {
  const className = entry.class_name;
  const known = typeof className === "string" && Object.hasOwn(KERAS3_VARIABLES, className)
    ? KERAS3_VARIABLES[className]
    : undefined;
  const config = isObject(entry.config) ? entry.config : {};
  const present = known?.filter(([, flag]) => flag === undefined || config[flag] !== false);
  return present?.map(([variable]) => variable);
}

/** `keras.src.utils.naming.to_snake_case`, which names the container keys. */
function toSnakeCase(name: string): string {
  return name
    .replace(/\W+/g, "")
    .replace(/(.)([A-Z][a-z]+)/g, "$1_$2")
    .replace(/([a-z])([A-Z])/g, "$1_$2")
    .toLowerCase();
}
