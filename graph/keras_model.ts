/**
 * Runs whole Keras models, not only the zoo's ResNets: a Keras 2 full-model HDF5 (`model.save("x.h5")`),
 * a Keras 3 `.keras` zip or a tfjs layers `model.json` becomes a `LayersModel` with the file's
 * trained weights.
 *
 * The file is read with {@link readKeras}; its model config is rewritten into the Keras 2 form that
 * tfjs-layers deserialises, and each layer's weights are then set by layer name. The rewrite:
 *
 * - turns Keras 3 configs (`module`, `registered_name`, `build_config`, `batch_shape`,
 *   `{args, kwargs}` inbound nodes of `__keras_tensor__`s, dtype policy objects) into Keras 2 ones;
 * - drops initializers, regularizers and constraints, which only matter for training (optimizer
 *   state and training config are ignored too);
 * - maps layers tfjs lacks onto exact equivalents (`ReLU` with a negative slope → `LeakyReLU`,
 *   `SpatialDropout2D` → `Dropout`, `Identity` → linear `Activation`, activation `silu` → `swish`)
 *   and `Normalization` onto a small registered layer;
 * - rejects, naming the layer and its class, every layer or setting tfjs would silently compute
 *   differently (grouped convolutions, `keepdims` pooling, `ReLU` thresholds, quantized layers, …).
 *
 * Paddings are passed through unchanged: tfjs implements TF's 'same' padding, which pads a
 * stride-2 convolution on an even input at the bottom/right only, so a faithful config is exact.
 *
 * {@link saveLayersModel} writes a model back out in the tfjs layers format.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { loadKerasModel, saveLayersModel } from "../convert/convert/keras_model.ts";
 *
 * const file = "resnet8_cifar10.h5";
 * const model = await loadKerasModel(await Deno.readFile(file), file);
 * const logits = model.predict(tf.zeros([1, 32, 32, 3])) as Tensor;
 * console.log(logits.shape); // [1, 10]
 * await saveLayersModel(model, "web_model");
 * ```
 *
 * @module
 */

import { writeAtomically } from "../formats/files.ts";
import { messageOf } from "../arch/errors.ts";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import type { LayersModel, Tensor } from "../runtime/tensor.ts";
import { type KerasLayerWeights, readKeras } from "../formats/keras.ts";
import type { NamedTensor } from "../formats/tensor.ts";
import { ZooFormatError } from "../arch/errors.ts";

/** Options of {@link loadKerasModel}. */
export interface LoadKerasModelOptions {
  /**
   * For a tfjs `model.json`: the bytes of each weight shard, keyed by its path as written in the
   * file's `weightsManifest[].paths`.
   *
   * @example
   * ```ts
   * import type { LoadKerasModelOptions } from "../convert/convert/keras_model.ts";
   * const options: LoadKerasModelOptions = {
   *   shards: new Map([["group1-shard1of1.bin", await Deno.readFile("web_model/group1-shard1of1.bin")]]),
   * };
   * ```
   */
  shards?: Map<string, Uint8Array>;
}

/**
 * Builds a `LayersModel` with trained weights from a Keras 2 full-model HDF5 file, a Keras 3
 * `.keras` zip or a tfjs layers `model.json` (whose shards go in `options.shards`).
 *
 * @param bytes The file's contents.
 * @param file The file's name, used in error messages.
 * @param options The shards of a tfjs model.
 * @returns The model, ready for `predict`; the caller disposes it.
 * @throws {ZooFormatError} When the file has no model config (a weights-only file), a layer or one
 *   of its settings is not supported (the message names the layer and its class), or a layer's
 *   weights do not match what its config builds (the message names the layer and tensor).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { loadKerasModel } from "../convert/convert/keras_model.ts";
 * const model = await loadKerasModel(await Deno.readFile("model.keras"), "model.keras");
 * const output = model.predict(tf.ones([1, 32, 32, 3])) as Tensor;
 * output.print();
 * ```
 */
export async function loadKerasModel(
  bytes: Uint8Array,
  file: string,
  options: LoadKerasModelOptions = {},
): Promise<LayersModel> {
  const keras = readKeras(bytes, file, options);
  if (!keras.modelConfig) {
    throw new ZooFormatError(
      file,
      `a ${keras.format} file holds weights only, no model config; build the architecture ` +
        "in code and load the weights into it",
    );
  }
  const topology = convertModel(keras.modelConfig, file);
  let model: LayersModel;
  try {
    // The converted config is plain JSON, which tfjs types as its own PyJson.
    const json = { modelTopology: topology } as Parameters<typeof tfl.models.modelFromJSON>[0];
    model = await tfl.models.modelFromJSON(json);
  } catch (error) {
    throw new ZooFormatError(file, `tfjs cannot build the model config: ${messageOf(error)}`);
  }
  try {
    setWeights(model, keras.layers, file);
  } catch (error) {
    model.dispose();
    throw error;
  }
  return model;
}

// ---------------------------------------------------------------------------------------------
// Model configs

type JsonObject = Record<string, unknown>;

/** A node input in the Keras 2 form: inbound layer, its node index, its output tensor index, kwargs. */
type NodeInput = [layer: string, node: number, tensor: number, kwargs: JsonObject];

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Keras class names of a whole model; `Model` is what Keras ≤ 2.3 called a functional model. */
const FUNCTIONAL_CLASSES: ReadonlySet<string> = new Set(["Functional", "Model"]);

/** A model config (top level or nested as a layer) in the form tfjs-layers deserialises. */
function convertModel(entry: JsonObject, file: string): JsonObject {
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

// ---------------------------------------------------------------------------------------------
// Layer configs

/** How one Keras layer class becomes a tfjs one. */
interface LayerRule {
  /** Rewrites class-specific settings; returns the tfjs class name. Throws via `reject`. */
  adapt?: (config: JsonObject, reject: (message: string) => never) => string;
}

/**
 * Settings that tfjs ignores, with the only value under which ignoring them is exact. Each is
 * checked wherever it appears and then dropped.
 */
const EXACT_ONLY_WITH: Readonly<Record<string, unknown>> = {
  groups: 1, // Conv: tfjs has no grouped convolution
  keepdims: false, // global pooling
  renorm: false, // BatchNormalization: renorm has its own extra weights
  virtual_batch_size: null,
  adjustment: null,
  sparse: false, // InputLayer
  ragged: false,
  lora_rank: null, // Keras 3 LoRA layers keep extra, unmerged weights
  quantization_config: null,
};

/** Settings that only matter for training or tracing, dropped so that tfjs never sees them. */
const TRAINING_ONLY =
  /_(initializer|regularizer|constraint)$|^(lora_alpha|synchronized|fused|optional|seed|noise_shape)$/;

/** Keras activation names and the tfjs activation computing the same function. */
const ACTIVATIONS: Readonly<Record<string, string>> = {
  linear: "linear",
  relu: "relu",
  relu6: "relu6",
  sigmoid: "sigmoid",
  tanh: "tanh",
  softmax: "softmax",
  log_softmax: "log_softmax",
  softplus: "softplus",
  softsign: "softsign",
  elu: "elu",
  selu: "selu",
  swish: "swish",
  silu: "swish", // Keras 3's name for swish; both are x·sigmoid(x)
  gelu: "gelu", // Keras' activation default is the exact (erf) form, as in tfjs
  mish: "mish",
};

const SAME_CLASS: LayerRule = {};

/** The Keras classes this importer supports, with what their configs need. */
const LAYER_RULES: Readonly<Record<string, LayerRule>> = {
  InputLayer: {
    adapt: (config) => {
      // Keras 3 calls it batch_shape.
      if (config.batch_shape !== undefined) config.batch_input_shape = config.batch_shape;
      delete config.batch_shape;
      return "InputLayer";
    },
  },
  Conv2D: SAME_CLASS,
  DepthwiseConv2D: SAME_CLASS,
  SeparableConv2D: SAME_CLASS,
  Dense: SAME_CLASS,
  BatchNormalization: {
    adapt: (config, reject) => {
      // Keras 2 writes the axis as a one-element list.
      if (Array.isArray(config.axis)) {
        if (config.axis.length !== 1) reject(`normalizing over axes [${config.axis}]`);
        config.axis = config.axis[0];
      }
      return "BatchNormalization";
    },
  },
  Activation: SAME_CLASS,
  ReLU: {
    adapt: (config, reject) => {
      const maxValue = config.max_value ?? null;
      const slope = config.negative_slope ?? 0;
      if ((config.threshold ?? 0) !== 0) reject(`threshold ${config.threshold}`);
      delete config.negative_slope;
      delete config.threshold;
      if (slope === 0) return "ReLU";
      if (maxValue !== null) reject(`max_value together with negative_slope`);
      delete config.max_value;
      config.alpha = slope;
      return "LeakyReLU";
    },
  },
  LeakyReLU: {
    adapt: (config) => {
      // Keras 3 renamed alpha to negative_slope.
      if (config.negative_slope !== undefined) config.alpha = config.negative_slope;
      delete config.negative_slope;
      return "LeakyReLU";
    },
  },
  PReLU: SAME_CLASS,
  ELU: SAME_CLASS,
  Softmax: SAME_CLASS,
  Add: SAME_CLASS,
  Multiply: SAME_CLASS,
  Average: SAME_CLASS,
  Maximum: SAME_CLASS,
  Minimum: SAME_CLASS,
  Concatenate: SAME_CLASS,
  MaxPooling2D: SAME_CLASS,
  AveragePooling2D: SAME_CLASS,
  GlobalAveragePooling2D: SAME_CLASS,
  GlobalMaxPooling2D: SAME_CLASS,
  ZeroPadding2D: SAME_CLASS,
  Cropping2D: SAME_CLASS,
  Flatten: SAME_CLASS,
  Reshape: SAME_CLASS,
  Permute: SAME_CLASS,
  Dropout: SAME_CLASS,
  // Dropout variants are all the identity at inference.
  SpatialDropout2D: { adapt: () => "Dropout" },
  GaussianDropout: SAME_CLASS,
  GaussianNoise: SAME_CLASS,
  Identity: {
    adapt: (config) => {
      config.activation = "linear";
      return "Activation";
    },
  },
  Rescaling: {
    adapt: (config, reject) => {
      for (const key of ["scale", "offset"]) {
        const value = config[key] ?? 0;
        if (!(typeof value === "number" || isNumberList(value))) {
          reject(`${key} ${JSON.stringify(value)}`);
        }
      }
      return "Rescaling";
    },
  },
  Normalization: {
    adapt: (config, reject) => {
      for (const key of ["mean", "variance"]) {
        if (!isNumberList(config[key]) && typeof config[key] !== "number") {
          reject(`a ${key} learned by adapt() (only statistics given in the config are read)`);
        }
      }
      return NORMALIZATION_CLASS;
    },
  },
};

function isNumberList(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((item) => typeof item === "number");
}

function convertLayerConfig(
  name: string,
  className: string,
  original: JsonObject,
  rule: LayerRule,
  where: string,
  file: string,
): JsonObject {
  const reject = (message: string): never => {
    throw new ZooFormatError(file, `${where} is not supported with ${message}`);
  };
  const config: JsonObject = { ...original, name };
  for (const [key, exact] of Object.entries(EXACT_ONLY_WITH)) {
    // null stands for the default, which is the exact value.
    const value = config[key] ?? null;
    if (value !== null && value !== exact) {
      reject(`${key} = ${JSON.stringify(config[key])} (tfjs only computes ${key} = ${exact})`);
    }
    delete config[key];
  }
  for (const key of Object.keys(config)) if (TRAINING_ONLY.test(key)) delete config[key];
  if ("dtype" in config) {
    const dtype = tfjsDtype(config.dtype, reject);
    if (dtype === undefined) delete config.dtype;
    else config.dtype = dtype;
  }
  if ("activation" in config) config.activation = tfjsActivation(config.activation, reject);
  return { class_name: rule.adapt?.(config, reject) ?? className, config };
}

/**
 * A dtype, or a Keras dtype policy object (`{class_name: "DTypePolicy", config: {name}}`), as a
 * tfjs dtype. Weights are read as float32, so every float policy, mixed ones included, computes in
 * float32.
 */
function tfjsDtype(value: unknown, reject: (message: string) => never): string | undefined {
  const name = isObject(value) && isObject(value.config) ? value.config.name : value;
  if (name === null || name === undefined) return undefined;
  if (typeof name === "string") {
    if (/^(mixed_)?(b?float16|float32|float64)$/.test(name)) return "float32";
    if (/^u?int(8|16|32|64)$/.test(name)) return "int32";
    if (name === "bool") return "bool";
  }
  return reject(`dtype ${JSON.stringify(name)}`);
}

/** A Keras activation (a name, or Keras 3's `{class_name: "function", config: name}`) for tfjs. */
function tfjsActivation(value: unknown, reject: (message: string) => never): string {
  const name = isObject(value) ? value.config : value ?? "linear";
  const tfjsName = typeof name === "string" ? ACTIVATIONS[name] : undefined;
  return tfjsName ?? reject(`activation ${JSON.stringify(name)}`);
}

// ---------------------------------------------------------------------------------------------
// Normalization

/** The class name the Normalization layer is registered under, so that saved models reload. */
const NORMALIZATION_CLASS = "Normalization";

/** Keras' `backend.epsilon()`, the floor of the standard deviation in Normalization. */
const KERAS_EPSILON = 1e-7;

/** The config of Keras' Normalization with its statistics given as values. */
interface NormalizationConfig {
  /** The kept axes (one statistic per position along them); null keeps none. */
  axis?: number | number[] | null;
  mean: number | number[];
  variance: number | number[];
  invert?: boolean;
}

/**
 * Keras' `Normalization` with mean and variance from its config: `(x − mean) / max(√variance, ε)`,
 * or `x · max(√variance, ε) + mean` when inverted. The statistics are reshaped to broadcast along
 * the kept axes, as Keras does.
 */
class KerasNormalization extends tfl.layers.Layer {
  static className: string = NORMALIZATION_CLASS;
  private readonly keptAxes: number[];
  private readonly mean: number[];
  private readonly variance: number[];
  private readonly invert: boolean;

  constructor(args: NormalizationConfig & ConstructorParameters<typeof tfl.layers.Layer>[0]) {
    super(args);
    this.keptAxes = args.axis === null ? [] : [args.axis ?? -1].flat();
    this.mean = [args.mean].flat();
    this.variance = [args.variance].flat();
    this.invert = args.invert ?? false;
  }

  override call(inputs: Tensor | Tensor[]): Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      const kept = this.keptAxes.map((axis) => (axis < 0 ? axis + x.rank : axis));
      const shape = x.shape.map((dim, axis) => (kept.includes(axis) ? dim : 1));
      const statistic = (values: number[]): Tensor =>
        values.length === 1 ? tf.scalar(values[0]) : tf.tensor(values, shape);
      const mean = statistic(this.mean);
      const deviation = tf.maximum(tf.sqrt(statistic(this.variance)), KERAS_EPSILON);
      return this.invert ? tf.add(tf.mul(x, deviation), mean) : tf.div(tf.sub(x, mean), deviation);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      axis: this.keptAxes,
      mean: this.mean,
      variance: this.variance,
      invert: this.invert,
    };
  }
}
tf.serialization.registerClass(KerasNormalization);

// ---------------------------------------------------------------------------------------------
// Weights

/** The layers of a model that own weights, nested models opened up. */
function leafLayers(model: LayersModel): tfl.layers.Layer[] {
  return model.layers.flatMap((layer) =>
    layer instanceof tfl.LayersModel ? leafLayers(layer) : [layer]
  );
}

/** `conv2d/kernel:0` → `kernel`; Keras 3 names of unknown variables are their index (`0`). */
function parameterName(tensorName: string): string {
  return tensorName.slice(tensorName.lastIndexOf("/") + 1).replace(/:\d+$/, "");
}

/**
 * The file's tensors keyed by the layer that owns them. A nested model of a Keras 2 file is one
 * entry holding all its layers' tensors, named `<layer>/<variable>:0`; those are split by layer.
 */
function tensorsByLayer(
  fileLayers: KerasLayerWeights[],
  leafNames: Set<string>,
  file: string,
): Map<string, NamedTensor[]> {
  const byLayer = new Map<string, NamedTensor[]>();
  for (const layer of fileLayers) {
    for (const tensor of layer.weights) {
      const owner = leafNames.has(layer.name) ? layer.name : tensor.name.split("/").at(-2);
      if (owner === undefined || !leafNames.has(owner)) {
        throw new ZooFormatError(
          file,
          `the file has weight '${tensor.name}' for layer '${layer.name}', which the model config lacks`,
        );
      }
      byLayer.set(owner, [...byLayer.get(owner) ?? [], tensor]);
    }
  }
  return byLayer;
}

/**
 * Gives each layer its tensors from the file: by variable name (`kernel`, `moving_mean`, …) where
 * the file names them, else in the layer's creation order, which Keras and tfjs share.
 */
function setWeights(model: LayersModel, fileLayers: KerasLayerWeights[], file: string): void {
  const leaves = leafLayers(model);
  const byLayer = tensorsByLayer(fileLayers, new Set(leaves.map((layer) => layer.name)), file);
  for (const layer of leaves) {
    const variables = layer.weights;
    const where = `layer '${layer.name}' (${layer.getClassName()})`;
    const expected = variables.map((variable) => parameterName(variable.originalName));
    const tensors = byLayer.get(layer.name) ?? [];
    if (tensors.length !== variables.length) {
      throw new ZooFormatError(
        file,
        `${where} has ${tensors.length} weights in the file ` +
          `[${
            tensors.map((tensor) => tensor.name)
          }], the model needs ${variables.length} [${expected}]`,
      );
    }
    if (variables.length === 0) continue;
    // Keras loads by creation order; names, where the file has the variables' own, also guard
    // against a reordered file.
    const names = tensors.map((tensor) => parameterName(tensor.name));
    const byName = expected.every((name) => names.includes(name));
    const ordered = byName ? expected.map((name) => tensors[names.indexOf(name)]) : tensors;
    const values = ordered.map((tensor, i) => {
      const shape = variables[i].shape;
      if (tensor.shape.join() !== shape.join()) {
        throw new ZooFormatError(
          file,
          `${where}: tensor '${tensor.name}' has shape [${tensor.shape}], ` +
            `the model's '${variables[i].originalName}' needs [${shape}]`,
        );
      }
      return tf.tensor(tensor.data as Float32Array, tensor.shape, variables[i].dtype);
    });
    layer.setWeights(values);
    tf.dispose(values);
  }
}

// ---------------------------------------------------------------------------------------------
// tfjs layers format

/** The name of the single weight shard {@link serializeLayersModel} writes. */
const SHARD_NAME = "group1-shard1of1.bin";

/** A model in the tfjs layers format: `model.json` and its weight shards by path. */
export interface LayersModelFiles {
  /**
   * The bytes of `model.json`.
   *
   * @example
   * ```ts
   * import { type LayersModelFiles } from "../convert/convert/keras_model.ts";
   * const show = (files: LayersModelFiles): string => new TextDecoder().decode(files.modelJson);
   * ```
   */
  modelJson: Uint8Array;
  /**
   * The weight shards, keyed by the paths `model.json` names them by.
   *
   * @example
   * ```ts
   * import { type LayersModelFiles } from "../convert/convert/keras_model.ts";
   * const bytes = (files: LayersModelFiles): number =>
   *   [...files.shards.values()].reduce((total, shard) => total + shard.length, 0);
   * ```
   */
  shards: Map<string, Uint8Array>;
}

/**
 * Encodes a model in the tfjs layers format in memory: the `model.json` tfjs itself writes
 * (`format: "layers-model"`, topology and weights manifest) and one weight shard,
 * `group1-shard1of1.bin`. {@link loadKerasModel} and `tfl.loadLayersModel` read it back.
 *
 * @param model The model to encode.
 * @returns The bytes of `model.json` and of its shard.
 *
 * @example
 * ```ts
 * import { loadKerasModel, serializeLayersModel } from "../convert/convert/keras_model.ts";
 * const model = await loadKerasModel(await Deno.readFile("model.keras"), "model.keras");
 * const { modelJson, shards } = await serializeLayersModel(model);
 * const copy = await loadKerasModel(modelJson, "model.json", { shards });
 * ```
 */
export async function serializeLayersModel(model: LayersModel): Promise<LayersModelFiles> {
  let files: LayersModelFiles | undefined;
  await model.save(tf.io.withSaveHandler((artifacts) => {
    const weights = tf.io.CompositeArrayBuffer.join(artifacts.weightData);
    const modelJson: tf.io.ModelJSON = {
      format: artifacts.format,
      generatedBy: artifacts.generatedBy,
      convertedBy: artifacts.convertedBy,
      modelTopology: artifacts.modelTopology ?? {},
      weightsManifest: [{ paths: [SHARD_NAME], weights: artifacts.weightSpecs ?? [] }],
    };
    files = {
      modelJson: new TextEncoder().encode(JSON.stringify(modelJson)),
      shards: new Map([[SHARD_NAME, new Uint8Array(weights)]]),
    };
    return Promise.resolve({ modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) });
  }));
  return files!;
}

/**
 * Writes a model in the tfjs layers format: `dir/model.json` and `dir/group1-shard1of1.bin`
 * (the directory is created if missing). Each file is written under a temporary name in `dir` and
 * then renamed, so neither name ever holds a partial file; the shard goes first, so a
 * `model.json` is never newer than its weights.
 *
 * @param model The model to write.
 * @param dir The directory to write into.
 *
 * @example
 * ```ts
 * import { loadKerasModel, saveLayersModel } from "../convert/convert/keras_model.ts";
 * const model = await loadKerasModel(await Deno.readFile("resnet8.h5"), "resnet8.h5");
 * await saveLayersModel(model, "web_model"); // web_model/model.json, web_model/group1-shard1of1.bin
 * ```
 */
export async function saveLayersModel(model: LayersModel, dir: string): Promise<void> {
  const { modelJson, shards } = await serializeLayersModel(model);
  for (const [name, bytes] of shards) await writeAtomically(`${dir}/${name}`, bytes);
  await writeAtomically(`${dir}/model.json`, modelJson);
}
