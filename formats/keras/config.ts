/**
 * Keras model configs as JSON, shared by all Keras layouts: the `{class_name, config}` objects of
 * models and layers, their layer lists, and the names and classes of their layer entries.
 *
 * @example
 * ```ts
 * import { configLayerName, configLayers, parseJsonObject } from "./config.ts";
 * const dense = '{"class_name": "Dense", "config": {"name": "fc"}}';
 * const text = `{"class_name": "Sequential", "config": {"layers": [${dense}]}}`;
 * const model = parseJsonObject(text, "config.json", "config.json");
 * const names = configLayers(model)?.map((entry) => configLayerName(entry, "config.json"));
 * console.log(names); // [ "fc" ]
 * ```
 *
 * @module
 */

import { messageOf, ZooFormatError } from "../../arch/errors.ts";

/** A JSON object, as `JSON.parse` returns it. */
export type JsonObject = Record<string, unknown>;

/**
 * Whether a JSON value is an object (not an array, not null).
 *
 * @example
 * ```ts
 * console.log(isObject({}), isObject([]), isObject(null)); // true false false
 * ```
 */
export function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Parses a JSON text that must hold an object.
 *
 * @param text The JSON text.
 * @param file The file named in errors.
 * @param what What the text is (`config.json`, `root attribute model_config`), for errors.
 * @throws {ZooFormatError} If the text is not JSON or not an object.
 */
export function parseJsonObject(text: string, file: string, what: string): JsonObject {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ZooFormatError(file, `${what} is not valid JSON: ${messageOf(error)}`);
  }
  if (!isObject(parsed)) throw new ZooFormatError(file, `${what} is not a JSON object`);
  return parsed;
}

/**
 * A short description of a JSON value for error messages: interpolating the value itself would
 * print a whole subtree, or overflow the stack on deeply nested arrays.
 *
 * @example
 * ```ts
 * console.log(describeJson([[[]]]), describeJson("x")); // an array 'x'
 * ```
 */
export function describeJson(value: unknown): string {
  if (typeof value === "string") {
    return `'${value.length > 100 ? `${value.slice(0, 100)}…` : value}'`;
  }
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object" && value !== null) return "an object";
  return String(value);
}

/**
 * The layer entries of a model (or nested model) config: `config.layers`, or the bare list of old
 * Sequential configs; undefined for plain layers and subclassed models.
 */
export function configLayers(modelConfig: JsonObject): JsonObject[] | undefined {
  const config = modelConfig.config;
  const entries = isObject(config) ? config.layers : config;
  return Array.isArray(entries) && entries.every(isObject) ? entries : undefined;
}

/**
 * The name of a layer entry of a model config: its `name`, or its config's (Keras 2).
 *
 * @throws {ZooFormatError} If the entry has no name.
 */
export function configLayerName(entry: JsonObject, file: string): string {
  const name = entry.name ?? (isObject(entry.config) ? entry.config.name : undefined);
  if (typeof name !== "string") {
    throw new ZooFormatError(file, "a layer in the model config has no name");
  }
  return name;
}

/**
 * The Keras class (`class_name`) of a layer entry of a model config.
 *
 * @throws {ZooFormatError} If the entry has no class name.
 */
export function configClassName(entry: JsonObject, file: string): string {
  if (typeof entry.class_name !== "string") {
    throw new ZooFormatError(
      file,
      `layer '${configLayerName(entry, file)}' in the model config has no class_name`,
    );
  }
  return entry.class_name;
}
