/**
 * Model configs from Keras 2, Keras 3 and tfjs files, rewritten into the Keras 2 form that
 * tfjs-layers deserialises: Functional and Sequential models (nested ones too), Keras 3's
 * `{args, kwargs}` inbound nodes of `__keras_tensor__`s turned into Keras 2 node lists, and each
 * functional graph checked to be buildable, so that a broken file fails instead of hanging tfjs.
 *
 * @example
 * ```ts
 * import { convertModel } from "./model_config.ts";
 * const keras3 = {
 *   class_name: "Sequential",
 *   config: {
 *     name: "mlp",
 *     layers: [
 *       { class_name: "InputLayer", config: { name: "x", batch_shape: [null, 4] } },
 *       { class_name: "Dense", config: { name: "fc", units: 2, activation: "silu" } },
 *     ],
 *   },
 * };
 * const { config } = convertModel(keras3, "mlp.keras") as { config: { layers: unknown[] } };
 * console.log(config.layers[0]); // { class_name: "InputLayer", config: { name: "x", batch_input_shape: [ null, 4 ] } }
 * console.log(config.layers[1]); // { class_name: "Dense", config: { name: "fc", units: 2, activation: "swish" } }
 * ```
 *
 * @module
 */

import { ZooFormatError } from "../../arch/errors.ts";
import { isObject, type JsonObject } from "../../formats/keras/config.ts";
import { convertLayerConfig, LAYER_RULES } from "./layer_config.ts";

/** A node input in the Keras 2 form: inbound layer, its node index, its output tensor index, kwargs. */
type NodeInput = [layer: string, node: number, tensor: number, kwargs: JsonObject];

/** Keras class names of a whole model; `Model` is what Keras ≤ 2.3 called a functional model. */
const FUNCTIONAL_CLASSES: ReadonlySet<string> = new Set(["Functional", "Model"]);

/**
 * A model config (top level or nested as a layer) in the form tfjs-layers deserialises.
 *
 * @param entry The model's `{class_name, config}`, as a Keras file holds it.
 * @param file The file named in errors.
 * @throws {ZooFormatError} For subclassed models, unsupported layers and settings, and graphs
 * tfjs could never build.
 */
export function convertModel(entry: JsonObject, file: string): JsonObject {
  const className = String(entry.class_name);
  if (FUNCTIONAL_CLASSES.has(className)) return convertFunctional(entry, file);
  if (className === "Sequential") return convertSequential(entry, file);
  throw new ZooFormatError(
    file,
    `model class '${className}' has no layer graph in its config (only Functional and ` +
      "Sequential models can be rebuilt; subclassed models cannot)",
  );
}

function convertFunctional(entry: JsonObject, file: string): JsonObject {
  const config = isObject(entry.config) ? entry.config : {};
  const name = typeof config.name === "string" ? config.name : "model";
  if (!Array.isArray(config.layers) || !config.layers.every(isObject)) {
    throw new ZooFormatError(file, `functional model '${name}' has no list of layers`);
  }
  const layers = config.layers.map((layer) => convertLayer(layer, file, true));
  const inputLayers = endpoints(config.input_layers, `model '${name}' input_layers`, file);
  const outputLayers = endpoints(config.output_layers, `model '${name}' output_layers`, file);
  // Keras 3 (the one writing {args, kwargs} nodes) numbers the calls of a nested Sequential from
  // 0: unlike its Functional, and unlike every tfjs model, its Sequential owns no node of its own.
  const keras3 = config.layers.some((layer) =>
    Array.isArray(layer.inbound_nodes) && layer.inbound_nodes.some(isObject)
  );
  const shifted = new Set(
    keras3
      ? layers.filter((layer) => layer.class_name === "Sequential").map((layer) => layer.name)
      : [],
  );
  const references = [
    ...inputLayers,
    ...outputLayers,
    ...layers.flatMap((layer) => (layer.inbound_nodes as NodeInput[][]).flat()),
  ];
  for (const reference of references) if (shifted.has(reference[0])) reference[1] += 1;
  checkGraph(layers, inputLayers, outputLayers, name, file);
  return {
    class_name: "Functional",
    config: { name, layers, input_layers: inputLayers, output_layers: outputLayers },
  };
}

function convertSequential(entry: JsonObject, file: string): JsonObject {
  // Keras ≤ 2.2 wrote a Sequential config as the bare list of its layers.
  const config = Array.isArray(entry.config) ? { layers: entry.config } : entry.config;
  if (!isObject(config) || !Array.isArray(config.layers) || !config.layers.every(isObject)) {
    throw new ZooFormatError(file, "Sequential model has no list of layers");
  }
  const layers = config.layers.map((layer) => convertLayer(layer, file, false));
  const first = layers[0]?.config;
  // Keras 3 leaves the input shape of a Sequential built without an Input in build_input_shape.
  if (
    isObject(first) && layers[0].class_name !== "InputLayer" &&
    first.batch_input_shape === undefined && Array.isArray(config.build_input_shape)
  ) {
    first.batch_input_shape = config.build_input_shape;
  }
  const name = typeof config.name === "string" ? config.name : "sequential";
  return { class_name: "Sequential", config: { name, layers } };
}

/** `input_layers`/`output_layers`: a list of `[layer, node, tensor]`, a single one, or a dict of them. */
function endpoints(value: unknown, what: string, file: string): [string, number, number][] {
  const list = isObject(value)
    ? Object.values(value)
    : Array.isArray(value) && typeof value[0] === "string"
    ? [value]
    : value;
  if (!Array.isArray(list) || list.length === 0 || !list.every(isTensorReference)) {
    throw new ZooFormatError(file, `${what} is not a list of [layer, node, tensor] references`);
  }
  return list.map(([layer, node, tensor]) => [layer, node, tensor]);
}

function isTensorReference(value: unknown): value is [string, number, number, ...unknown[]] {
  return Array.isArray(value) && typeof value[0] === "string" &&
    Number.isSafeInteger(value[1]) && value[1] >= 0 &&
    Number.isSafeInteger(value[2]) && value[2] >= 0;
}

/**
 * tfjs rebuilds a functional graph by calling layers until no node is left, and loops forever if
 * a node can never be called (a cycle, or a node index that never exists). This replays the same
 * fixpoint on the config first, so such a file fails with an error instead of hanging.
 */
function checkGraph(
  layers: JsonObject[],
  inputs: [string, number, number][],
  outputs: [string, number, number][],
  model: string,
  file: string,
): void {
  const nodeCounts = new Map<string, number>();
  for (const layer of layers) {
    const name = String(layer.name);
    if (nodeCounts.has(name)) {
      throw new ZooFormatError(file, `model '${model}' has two layers named '${name}'`);
    }
    // An InputLayer or a nested model owns one node before it is called.
    const ownsNode = layer.class_name === "InputLayer" || isObject(layer.config) &&
        Array.isArray(layer.config.layers);
    nodeCounts.set(name, ownsNode ? 1 : 0);
  }
  let pending = layers.flatMap((layer) =>
    (layer.inbound_nodes as NodeInput[][]).map((node) => ({ layer: String(layer.name), node }))
  );
  for (const { layer, node } of pending) {
    const missing = node.find(([inbound]) => !nodeCounts.has(inbound));
    if (missing) {
      throw new ZooFormatError(
        file,
        `layer '${layer}' takes its input from '${missing[0]}', which model '${model}' lacks`,
      );
    }
  }
  while (pending.length > 0) {
    const waiting = pending.filter(({ layer, node }) => {
      if (!node.every(([inbound, index]) => nodeCounts.get(inbound)! > index)) return true;
      nodeCounts.set(layer, nodeCounts.get(layer)! + 1);
      return false;
    });
    if (waiting.length === pending.length) {
      const [inbound, index] = waiting[0].node.find(([name, i]) => nodeCounts.get(name)! <= i)!;
      throw new ZooFormatError(
        file,
        `layer '${waiting[0].layer}' waits for node ${index} of '${inbound}', which the graph ` +
          "never creates (a cycle or a wrong node index)",
      );
    }
    pending = waiting;
  }
  for (const [layer, node] of [...inputs, ...outputs]) {
    if ((nodeCounts.get(layer) ?? 0) <= node) {
      throw new ZooFormatError(
        file,
        `model '${model}' names node ${node} of '${layer}' as an input or output, which the ` +
          "graph never creates",
      );
    }
  }
}

/** One layer entry of a model config, converted; `inGraph` for the entries of a functional model. */
function convertLayer(entry: JsonObject, file: string, inGraph: boolean): JsonObject {
  const config = isObject(entry.config) ? entry.config : {};
  const name = entry.name ?? config.name;
  const className = entry.class_name;
  if (typeof name !== "string" || typeof className !== "string") {
    throw new ZooFormatError(file, "a layer in the model config has no name or class_name");
  }
  const where = `layer '${name}' (${className})`;
  if (typeof entry.module === "string" && entry.module.includes(".ops.")) {
    throw new ZooFormatError(
      file,
      `${where} is the raw Keras operation ${entry.module}.${className}, which has no tfjs ` +
        "layer; rewrite it as a keras.layers layer",
    );
  }
  let converted: JsonObject;
  if (FUNCTIONAL_CLASSES.has(className) || className === "Sequential") {
    converted = convertModel(entry, file);
    (converted.config as JsonObject).name = name;
  } else {
    const rule = LAYER_RULES[className];
    if (!rule) {
      throw new ZooFormatError(
        file,
        `${where} is not supported: tfjs-layers has no equivalent that this importer maps it to`,
      );
    }
    converted = convertLayerConfig(name, className, config, rule, where, file);
  }
  if (!inGraph) return converted;
  const nodes = entry.inbound_nodes ?? [];
  if (!Array.isArray(nodes)) throw new ZooFormatError(file, `${where} has invalid inbound_nodes`);
  return {
    ...converted,
    name,
    inbound_nodes: nodes.map((node) => convertNode(node, where, file)),
  };
}

/** A Keras 2 node (a list of references) as is, or a Keras 3 `{args, kwargs}` node converted. */
function convertNode(node: unknown, where: string, file: string): NodeInput[] {
  if (Array.isArray(node)) {
    if (!node.every(isTensorReference)) {
      throw new ZooFormatError(
        file,
        `${where} has an inbound node that is not a list of references`,
      );
    }
    return node.map(([layer, index, tensor, kwargs]) => [
      layer,
      index,
      tensor,
      isObject(kwargs) ? kwargs : {},
    ]);
  }
  if (!isObject(node) || !Array.isArray(node.args)) {
    throw new ZooFormatError(file, `${where} has an inbound node without args`);
  }
  const inputs: [string, number, number][] = [];
  collectKerasTensors(node.args, inputs, where, file);
  const kwargs: JsonObject = {};
  for (const [key, value] of Object.entries(isObject(node.kwargs) ? node.kwargs : {})) {
    const tensors: [string, number, number][] = [];
    collectKerasTensors(value, tensors, where, file);
    if (tensors.length > 0) {
      throw new ZooFormatError(file, `${where} is called with a tensor as '${key}', not supported`);
    }
    if (value !== null) kwargs[key] = value;
  }
  return inputs.map(([layer, index, tensor]) => [layer, index, tensor, kwargs]);
}

/** Keras tensors anywhere in a call's arguments, in order; constants cannot be passed to tfjs. */
function collectKerasTensors(
  value: unknown,
  found: [string, number, number][],
  where: string,
  file: string,
): void {
  if (Array.isArray(value)) {
    for (const item of value) collectKerasTensors(item, found, where, file);
  } else if (isObject(value) && value.class_name === "__keras_tensor__") {
    const history = isObject(value.config) ? value.config.keras_history : undefined;
    if (!isTensorReference(history)) {
      throw new ZooFormatError(file, `${where} has an input tensor without a keras_history`);
    }
    found.push([history[0], history[1], history[2]]);
  } else if (value !== null && !isObject(value)) {
    throw new ZooFormatError(
      file,
      `${where} is called with the constant ${JSON.stringify(value)}, which tfjs cannot pass`,
    );
  }
}
