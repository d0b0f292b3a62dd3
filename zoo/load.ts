/**
 * From a name to a ready classifier: the bundled default model, a weights file of any
 * supported format, or a registry id (downloaded, verified and converted to the zoo's
 * own file once, then reused from the cache).
 *
 * @example
 * ```ts
 * import { loadClassifier } from "./load.ts";
 * const classifier = await loadClassifier(); // bundled CIFAR-10 ResNet-20
 * console.log(classifier.labels.length); // 10
 * ```
 *
 * @module
 */

import { type ImportedModel, importFile } from "../convert/import.ts";
import { readZooWeights, writeZooWeights, type ZooWeightsFile } from "../convert/zoofile.ts";
import { createModel } from "./model.ts";
import { createEngine, type EngineChoice } from "./engine.ts";
import type { Classifier } from "./classify.ts";
import { type LabelSet, labelsFor } from "./labels.ts";
import { PREPROCESS_PRESETS, type PreprocessSpec, TORCHVISION_V1 } from "./preprocess.ts";
import { findWeights, REGISTRY, type WeightsEntry } from "./registry.ts";
import { cacheDir, fetchWeights } from "./cache.ts";

/** The model bundled with the package: akamaster's CIFAR-10 ResNet-20 (BSD-2), converted. */
export const DEFAULT_MODEL: URL = new URL("../models/cifar_resnet20.safetensors", import.meta.url);

/** Reads a local path or a URL (the bundled model is remote when the package runs from JSR). */
async function readBytes(location: string | URL): Promise<Uint8Array> {
  const url = location instanceof URL ? location : null;
  if (url && url.protocol !== "file:") {
    return new Uint8Array(await (await fetch(url)).arrayBuffer());
  }
  return await Deno.readFile(location);
}

/** Where a registry entry's converted zoo file lives in the cache. */
function convertedPath(entry: WeightsEntry): string {
  return `${cacheDir()}/models/${entry.id}.safetensors`;
}

/** Hex sha256 of a byte array. */
async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>),
  );
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Converts an imported model to the zoo file with provenance. The registry entry whose
 * hash matches the source supplies preprocessing and labels.
 *
 * @example
 * ```ts
 * // const bytes = await toZooFile("resnet20-12fca82f.th", await importFile("resnet20-12fca82f.th"));
 * ```
 */
export async function toZooFile(
  source: string,
  imported: ImportedModel,
  info: { preprocess?: PreprocessSpec; labels?: LabelSet } = {},
): Promise<Uint8Array> {
  const digest = await sha256(await Deno.readFile(source));
  const entry = REGISTRY.find((e) =>
    e.hash.algorithm === "md5" ? false : digest.startsWith(e.hash.value.toLowerCase())
  );
  return writeZooWeights(imported.spec, imported.weights, {
    preprocess: info.preprocess ?? (entry ? PREPROCESS_PRESETS[entry.preprocess] : undefined),
    labels: info.labels ?? entry?.labels,
    source: source.split("/").pop(),
    sourceSha256: digest,
    sourceFormat: imported.format,
  });
}

/** Writes a file atomically: a temporary sibling, then a rename. */
async function writeAtomically(path: string, bytes: Uint8Array): Promise<void> {
  await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  const temporary = `${path}.${Deno.pid}.tmp`;
  await Deno.writeFile(temporary, bytes);
  await Deno.rename(temporary, path);
}

/**
 * The zoo file of a registry entry: downloaded and converted once, then reused.
 *
 * @example
 * ```ts
 * const path = await pullWeights("cifar_resnet20.cifar10");
 * ```
 */
export async function pullWeights(
  id: string,
  options: { progress?: boolean } = {},
): Promise<string> {
  const entry = findWeights(id);
  const converted = convertedPath(entry);
  try {
    readZooWeights(await Deno.readFile(converted), converted);
    return converted;
  } catch {
    // Missing or damaged: (re)convert from the verified download below.
  }
  const downloaded = await fetchWeights(entry, { progress: options.progress });
  const imported = await importFile(downloaded);
  await writeAtomically(converted, await toZooFile(downloaded, imported));
  return converted;
}

/** Options of {@link loadClassifier}. */
export interface LoadOptions {
  /** Draw a download progress bar on stderr. */
  progress?: boolean;
  /** Engine to run on (default `auto`: the fastest that loads here). */
  engine?: EngineChoice;
}

/**
 * Loads a classifier from a registry id, a weights file (any supported format) or, by
 * default, the bundled CIFAR-10 ResNet-20.
 *
 * @example
 * ```ts
 * const c = await loadClassifier("tests/data/cifar10-resnet/resnet20-12fca82f.th");
 * console.log(c.model.spec.name); // "cifar_resnet20"
 * ```
 */
export async function loadClassifier(
  source?: string,
  options: LoadOptions = {},
): Promise<Classifier> {
  let file: ZooWeightsFile;
  let name: string;
  if (source === undefined) {
    name = "cifar_resnet20.cifar10 (bundled)";
    file = readZooWeights(await readBytes(DEFAULT_MODEL), DEFAULT_MODEL.pathname);
  } else if (REGISTRY.some((e) => e.id === source)) {
    name = source;
    const path = await pullWeights(source, options);
    file = readZooWeights(await Deno.readFile(path), path);
  } else {
    name = source;
    const imported = await importFile(source);
    file = imported.format === "zoo-safetensors"
      ? readZooWeights(await Deno.readFile(source), source)
      : readZooWeights(await toZooFile(source, imported), source);
  }
  const labelSet = (file.labels ?? (file.spec.classes === 10 ? "cifar10" : "imagenet")) as LabelSet;
  const model = await createEngine(
    createModel(file.spec, { weights: file.weights }),
    options.engine,
  );
  return {
    name,
    model,
    preprocess: (file.preprocess as PreprocessSpec | undefined) ?? TORCHVISION_V1,
    labels: labelsFor(labelSet),
  };
}
