/**
 * Validation of a weights registry written as JSON: every field's type and value is checked,
 * so a registry file from elsewhere (or a hostile one) becomes {@link WeightsEntry} objects or
 * a {@link ZooFormatError} naming the first wrong field.
 *
 * @example
 * ```ts
 * import { validateRegistryJson } from "./registry_json.ts";
 * try {
 *   validateRegistryJson('[{"id": "x"}]', "mine.json");
 * } catch (error) {
 *   console.log((error as Error).message); // mine.json: entry 0 lacks field 'architecture'
 * }
 * ```
 *
 * @module
 */

import { ZooFormatError } from "../arch/errors.ts";
import { LABEL_SETS } from "../arch/labels.ts";
import type { WeightsEntry, WeightsHash, WeightsMetrics } from "./registry.ts";

const HASH_ALGORITHMS: readonly WeightsHash["algorithm"][] = ["sha256", "sha256-prefix", "md5"];
const SOURCE_FORMATS: readonly WeightsEntry["sourceFormat"][] = [
  "pytorch-zip",
  "pytorch-legacy",
  "pytorch",
  "onnx",
  "keras-h5",
];
const PREPROCESS_PRESETS: readonly WeightsEntry["preprocess"][] = [
  "TORCHVISION_V1",
  "TORCHVISION_V2",
  "KERAS_CAFFE",
  "KERAS_TF",
  "CIFAR10_TORCH",
  "TIMM_CROP_875",
  "TIMM_CROP_95",
  "TIMM_256_CROP_95",
];

/** Hex digits per algorithm; a `sha256-prefix` is at least the 8 digits torch.hub file names carry. */
const HASH_DIGITS: Readonly<Record<WeightsHash["algorithm"], RegExp>> = {
  "sha256": /^[0-9a-f]{64}$/,
  "sha256-prefix": /^[0-9a-f]{8,64}$/,
  "md5": /^[0-9a-f]{32}$/,
};

/** Checks the fields of one JSON object against a schema of field checks; unknown keys fail. */
function checkFields(
  value: unknown,
  where: string,
  required: readonly string[],
  optional: readonly string[],
  fail: (message: string) => never,
): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    fail(`${where} is not an object`);
  }
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!required.includes(key) && !optional.includes(key)) {
      fail(`${where} has unknown field '${key.slice(0, 100)}'`);
    }
  }
  for (const key of required) {
    if (!Object.hasOwn(record, key)) fail(`${where} lacks field '${key}'`);
  }
  return record;
}

/**
 * Parses and validates a registry in JSON (an array of {@link WeightsEntry} objects, as
 * `JSON.stringify(REGISTRY)` writes it), checking every field's type and value: non-empty
 * strings, `https://` URLs, hash digits of the algorithm's length, the enumerations' values,
 * accuracies in [0, 100], sizes as non-negative integers, unique ids. Unknown fields are
 * refused, so a misspelt optional field cannot pass unnoticed.
 *
 * @param text The JSON text.
 * @param file The file name, used in error messages.
 * @returns The entries, in file order.
 * @throws {ZooFormatError} For invalid JSON or the first field that is wrong, naming the entry.
 *
 * @example
 * ```ts
 * import { REGISTRY } from "./registry.ts";
 * import { validateRegistryJson } from "./registry_json.ts";
 * const entries = validateRegistryJson(JSON.stringify(REGISTRY), "registry.json");
 * console.log(entries.length === REGISTRY.length); // true
 * ```
 */
export function validateRegistryJson(text: string, file: string): WeightsEntry[] {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new ZooFormatError(file, `not valid JSON: ${(error as Error).message}`);
  }
  if (!Array.isArray(document)) throw new ZooFormatError(file, "registry is not a JSON array");
  const ids = new Set<string>();
  return document.map((item: unknown, index): WeightsEntry => {
    let where = `entry ${index}`;
    const fail = (message: string): never => {
      throw new ZooFormatError(file, message);
    };
    const entry = checkFields(
      item,
      where,
      [
        "id",
        "architecture",
        "urls",
        "hash",
        "sourceFormat",
        "preprocess",
        "labels",
        "license",
        "metrics",
      ],
      ["includeTop", "notes"],
      fail,
    );
    const text = (key: string, value: unknown): string => {
      if (typeof value !== "string" || value.length === 0) {
        fail(`${where}: '${key}' is not a non-empty string`);
      }
      return value as string;
    };
    const oneOf = <T extends string>(key: string, allowed: readonly T[]): T => {
      const value = entry[key];
      if (!allowed.includes(value as T)) {
        fail(`${where}: '${key}' is not one of ${allowed.join(", ")}`);
      }
      return value as T;
    };
    const id = text("id", entry.id);
    where = `entry ${index} ('${id.slice(0, 100)}')`;
    if (ids.has(id)) fail(`${where}: id appears twice`);
    ids.add(id);

    const urls = entry.urls;
    if (!Array.isArray(urls) || urls.length === 0) {
      fail(`${where}: 'urls' is not a non-empty array`);
    }
    for (const url of urls as unknown[]) {
      if (typeof url !== "string" || !url.startsWith("https://")) {
        fail(`${where}: 'urls' holds something other than an https:// URL`);
      }
    }
    const hash = checkFields(entry.hash, `${where}: 'hash'`, ["algorithm", "value"], [], fail);
    if (!HASH_ALGORITHMS.includes(hash.algorithm as WeightsHash["algorithm"])) {
      fail(`${where}: 'hash.algorithm' is not one of ${HASH_ALGORITHMS.join(", ")}`);
    }
    const algorithm = hash.algorithm as WeightsHash["algorithm"];
    if (typeof hash.value !== "string" || !HASH_DIGITS[algorithm].test(hash.value)) {
      fail(`${where}: 'hash.value' is not lower-case hex of ${algorithm}'s length`);
    }

    const metrics = checkFields(
      entry.metrics,
      `${where}: 'metrics'`,
      ["dataset"],
      ["top1", "top5", "params", "fileSizeBytes"],
      fail,
    );
    text("metrics.dataset", metrics.dataset);
    for (const key of ["top1", "top5"]) {
      const value = metrics[key];
      if (value !== undefined && !(typeof value === "number" && value >= 0 && value <= 100)) {
        fail(`${where}: 'metrics.${key}' is not a percentage`);
      }
    }
    for (const key of ["params", "fileSizeBytes"]) {
      const value = metrics[key];
      if (value !== undefined && !(Number.isSafeInteger(value) && (value as number) >= 0)) {
        fail(`${where}: 'metrics.${key}' is not a non-negative integer`);
      }
    }
    if (entry.includeTop !== undefined && typeof entry.includeTop !== "boolean") {
      fail(`${where}: 'includeTop' is not a boolean`);
    }
    if (entry.notes !== undefined && typeof entry.notes !== "string") {
      fail(`${where}: 'notes' is not a string`);
    }
    return {
      id,
      architecture: text("architecture", entry.architecture),
      urls: [...urls as string[]],
      hash: { algorithm, value: hash.value as string },
      sourceFormat: oneOf("sourceFormat", SOURCE_FORMATS),
      preprocess: oneOf("preprocess", PREPROCESS_PRESETS),
      labels: oneOf("labels", LABEL_SETS),
      license: text("license", entry.license),
      // Every key was checked above and unknown ones refused, so a copy holds nothing else.
      metrics: { ...metrics } as unknown as WeightsMetrics,
      ...(entry.includeTop === undefined ? {} : { includeTop: entry.includeTop as boolean }),
      ...(entry.notes === undefined ? {} : { notes: entry.notes as string }),
    };
  });
}
