/**
 * Layer configs: the Keras layer classes this importer maps onto tfjs-layers, and the checks that
 * reject every layer or setting tfjs would silently compute differently (grouped convolutions,
 * `keepdims` pooling, `ReLU` thresholds, quantized layers, …). Layers tfjs lacks are mapped onto
 * exact equivalents (`ReLU` with a negative slope → `LeakyReLU`, `SpatialDropout2D` → `Dropout`,
 * `Identity` → linear `Activation`, activation `silu` → `swish`).
 *
 * @example
 * ```ts
 * import { convertLayerConfig, LAYER_RULES } from "./layer_config.ts";
 * const relu = { max_value: null, negative_slope: 0.1, threshold: 0 };
 * const where = "layer 'act' (ReLU)";
 * const converted = convertLayerConfig("act", "ReLU", relu, LAYER_RULES.ReLU, where, "m.h5");
 * console.log(converted); // { class_name: "LeakyReLU", config: { name: "act", alpha: 0.1 } }
 * ```
 *
 * @module
 */

import { ZooFormatError } from "../../arch/errors.ts";
import { isObject, type JsonObject } from "../../formats/keras/config.ts";
import { NORMALIZATION_CLASS } from "./normalization.ts";

/** How one Keras layer class becomes a tfjs one. */
export interface LayerRule {
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
export const LAYER_RULES: Readonly<Record<string, LayerRule>> = {
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

/**
 * One layer's config for tfjs: settings tfjs ignores checked to have their exact value and
 * dropped, training-only settings dropped, dtype and activation mapped, and the class's own rule
 * applied.
 *
 * @param name The layer's name.
 * @param className The layer's Keras class.
 * @param original The layer's Keras config (not changed).
 * @param rule The class's entry in {@link LAYER_RULES}.
 * @param where How errors name the layer.
 * @param file The file named in errors.
 * @returns The tfjs `{class_name, config}`.
 * @throws {ZooFormatError} For a setting tfjs would compute differently.
 */
export function convertLayerConfig(
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
