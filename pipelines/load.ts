/**
 * From a name to a ready classifier: the bundled default model, a weights file of any
 * supported format (a zoo ResNet, or any Keras/ONNX CNN run from its own graph), or a
 * registry id (downloaded, verified and converted to the zoo's own file once, then
 * reused from the cache).
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

import { readSource } from "../hub/source.ts";
import { loadGraphModel } from "../graph/graph_model.ts";
import * as tf from "@tensorflow/tfjs-core";
import type { Tensor, Tensor4D } from "../runtime/tensor.ts";
import { importBytes, type ImportedModel } from "../convert/import.ts";
import type { readShards } from "../formats/keras/tfjs.ts";
import type { detectFormat } from "../formats/detect.ts";
import { type FileChunk, readWholeFile, writeAtomically } from "../formats/files.ts";
import { type GrowingHasher, hashBytes, type hashInWorker } from "../hub/hash.ts";
import {
  readZooHeader,
  readZooWeights,
  type ZooFileInfo,
  zooWeightsChunks,
  type ZooWeightsFile,
} from "../convert/zoofile.ts";
import { NotZooResNetError } from "../arch/errors.ts";
import { tfjsEngineName } from "../runtime/backend.ts";
import { createModel } from "../runtime/model.ts";
import { planResNet } from "../arch/plan.ts";
import {
  createEngine,
  type Engine,
  type EngineChoice,
  ortEngineFromOnnx,
  prefersOrt,
} from "../runtime/engine.ts";
import type { Classifier } from "./classify.ts";
import { type LabelSet, labelsFor } from "../arch/labels.ts";
import {
  CIFAR10_TORCH,
  KERAS_CAFFE,
  KERAS_TF,
  PREPROCESS_PRESETS,
  type PreprocessSpec,
  TORCHVISION_V1,
} from "../arch/preprocess.ts";
import { findWeights, REGISTRY, type WeightsEntry } from "../hub/registry.ts";
import { cacheDir, fetchWeights } from "../hub/cache.ts";

/** The model bundled with the package: akamaster's CIFAR-10 ResNet-20 (BSD-2), converted. */
export const DEFAULT_MODEL: URL = new URL("../models/cifar_resnet20.safetensors", import.meta.url);

/** Reads a local path or a URL (the bundled model is remote when the package runs from JSR). */
async function readBytes(location: string | URL): Promise<Uint8Array> {
  const url = location instanceof URL ? location : null;
  if (url && url.protocol !== "file:") {
    return new Uint8Array(await (await fetch(url)).arrayBuffer());
  }
  return await readWholeFile(location);
}

/** Where a registry entry's converted zoo file lives in the cache. */
function convertedPath(entry: WeightsEntry): string {
  return `${cacheDir()}/models/${entry.id}.safetensors`;
}

/** What a caller already knows about a converted file (else it comes from the registry). */
export interface ProvenanceInfo {
  /** Preprocessing to record. */
  preprocess?: PreprocessSpec;
  /** Label set to record. */
  labels?: LabelSet;
  /** The file's SHA-256 when already being computed (see {@link readSource}). */
  sha256?: Promise<string>;
}

/**
 * Provenance of an imported file. A registry entry whose published hash matches the
 * file's bytes supplies preprocessing and labels.
 *
 * @example
 * ```ts
 * // const info = await provenance(bytes, "resnet20-12fca82f.th", imported);
 * // info.labels === "cifar10"
 * ```
 */
export async function provenance(
  bytes: Uint8Array,
  source: string,
  imported: ImportedModel,
  info: ProvenanceInfo = {},
): Promise<ZooFileInfo> {
  const sha256 = await (info.sha256 ?? hashBytes(bytes, "sha256"));
  const md5 = imported.format === "keras-h5" ? hashBytes(bytes, "md5") : "";
  const entry = REGISTRY.find((e) => {
    const expected = e.hash.value.toLowerCase();
    return e.hash.algorithm === "md5" ? md5 === expected : sha256.startsWith(expected);
  });
  return {
    preprocess: info.preprocess ?? (entry ? PREPROCESS_PRESETS[entry.preprocess] : undefined),
    labels: info.labels ?? entry?.labels,
    source: source.split("/").pop(),
    sourceSha256: sha256,
    sourceFormat: imported.format,
  };
}

/**
 * The zoo file for an imported model, with provenance, as chunks to write in order (see
 * {@link writeAtomically}).
 *
 * @example
 * ```ts
 * // const chunks = await toZooFile(raw, "resnet20-12fca82f.th", await importBytes(raw, "resnet20-12fca82f.th"));
 * ```
 */
export async function toZooFile(
  bytes: Uint8Array,
  source: string,
  imported: ImportedModel,
  info: ProvenanceInfo = {},
): Promise<FileChunk[]> {
  return zooWeightsChunks(
    imported.spec,
    imported.weights,
    await provenance(bytes, source, imported, info),
  );
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
    await readZooHeader(converted);
    return converted;
  } catch {
    // Missing or damaged: (re)convert from the verified download below.
  }
  const downloaded = await fetchWeights(entry, { progress: options.progress });
  const { bytes, sha256 } = await readSource(downloaded);
  const imported = await importBytes(bytes, downloaded);
  await Deno.remove(`${converted}.nchw.onnx`).catch(() => {});
  await Deno.remove(`${converted}.nchw.onnx.data`).catch(() => {});
  await writeAtomically(
    converted,
    await toZooFile(bytes, downloaded, imported, {
      preprocess: PREPROCESS_PRESETS[entry.preprocess],
      labels: entry.labels,
      sha256,
    }),
  );
  return converted;
}

/** Options of {@link loadClassifier}. */
export interface LoadOptions {
  /** Draw a download progress bar on stderr. */
  progress?: boolean;
  /** Engine to run on (default `auto`: the fastest that loads here). */
  engine?: EngineChoice;
  /** Preprocessing, overriding what the weights file records. */
  preprocess?: PreprocessSpec;
  /** Label set, overriding what the weights file records. */
  labels?: LabelSet;
  /** onnxruntime graph optimisation (see `OrtSessionOptions.optimization`). */
  ortOptimization?: "all" | "extended";
}

/** What to assume when a file records no preprocessing: its family's usual one. */
function defaultPreprocess(file: Pick<ZooWeightsFile, "spec">): PreprocessSpec {
  if (file.spec.stem === "cifar") return CIFAR10_TORCH;
  if (file.spec.naming.id === "keras") return file.spec.preact ? KERAS_TF : KERAS_CAFFE;
  return TORCHVISION_V1;
}

function labelSetFor(classes: number, recorded?: string): LabelSet {
  return (recorded ?? (classes === 10 ? "cifar10" : "imagenet")) as LabelSet;
}

function classifierOf(
  name: string,
  file: Omit<ZooWeightsFile, "weights">,
  engine: Engine,
  options: LoadOptions,
): Classifier {
  return {
    name,
    engine,
    preprocess: options.preprocess ?? (file.preprocess as PreprocessSpec | undefined) ??
      defaultPreprocess(file),
    labels: labelsFor(options.labels ?? labelSetFor(file.spec.classes, file.labels)),
  };
}

/**
 * A registry model on onnxruntime. The exported ONNX is cached beside the zoo file, its
 * weights in an external data file that onnxruntime maps from disk, so later runs read only
 * the zoo file's header and onnxruntime opens the rest itself.
 */
async function cachedOrtClassifier(
  id: string,
  path: string,
  options: LoadOptions,
): Promise<Classifier> {
  const onnxPath = `${path}.nchw.onnx`;
  const dataPath = `${onnxPath}.data`;
  const header = await readZooHeader(path);
  const exists = (file: string) => Deno.stat(file).then(() => true, () => false);
  if (!(await exists(onnxPath) && await exists(dataPath))) {
    const file = readZooWeights(await readWholeFile(path), path);
    const { exportOnnxWithExternalData } = await import("../convert/onnx_export.ts");
    const { model, data } = exportOnnxWithExternalData(
      planResNet(file.spec),
      file.weights,
      dataPath.slice(dataPath.lastIndexOf("/") + 1),
    );
    // The data first: a model file in the cache means both are complete.
    await writeAtomically(dataPath, data);
    await writeAtomically(onnxPath, model);
  }
  return classifierOf(
    id,
    header,
    await ortEngineFromOnnx(onnxPath, { optimization: options.ortOptimization }),
    options,
  );
}

async function genericClassifier(
  bytes: Uint8Array,
  source: string,
  options: LoadOptions,
): Promise<Classifier> {
  const graph = await loadGraphModel(bytes, source);
  const nchw = graph.layout === "nchw";
  return {
    name: source,
    engine: {
      name: tfjsEngineName(),
      // Classification hands over NHWC; ONNX graphs take their declared NCHW.
      predict: (x) =>
        Promise.resolve(tf.tidy(() => graph.predict(nchw ? tf.transpose(x, [0, 3, 1, 2]) : x))),
      dispose: () => Promise.resolve(graph.dispose()),
    },
    preprocess: options.preprocess ?? TORCHVISION_V1,
    labels: labelsFor(options.labels ?? labelSetFor(graph.classes)),
  };
}

/**
 * Loads a classifier from a registry id, a weights file (any supported format: a zoo
 * ResNet, or any Keras/ONNX CNN from common layers) or, by default, the bundled CIFAR-10
 * ResNet-20.
 *
 * @example
 * ```ts
 * const c = await loadClassifier("testdata/cifar10-resnet/resnet20-12fca82f.th");
 * console.log(c.labels[3]); // "cat"
 * ```
 */
export async function loadClassifier(
  source?: string,
  options: LoadOptions = {},
): Promise<Classifier> {
  // A backend must be ready before any tensor exists; keep one the caller chose.
  await tf.ready();
  const engine = options.engine ?? "auto";
  const run = async (name: string, file: ZooWeightsFile) =>
    classifierOf(
      name,
      file,
      await createEngine(createModel(file.spec, { weights: file.weights }), engine, {
        optimization: options.ortOptimization,
      }),
      options,
    );
  if (source === undefined) {
    const bytes = await readBytes(DEFAULT_MODEL);
    return await run(
      "cifar_resnet20.cifar10 (bundled)",
      readZooWeights(bytes, DEFAULT_MODEL.pathname),
    );
  }
  if (REGISTRY.some((e) => e.id === source)) {
    const path = await pullWeights(source, options);
    if (await prefersOrt(engine)) return await cachedOrtClassifier(source, path, options);
    return await run(source, readZooWeights(await readWholeFile(path), path));
  }
  const bytes = await readWholeFile(source);
  let imported: ImportedModel;
  try {
    imported = await importBytes(bytes, source);
  } catch (error) {
    // Not one of the zoo's ResNets: run the file's own graph instead.
    if (error instanceof NotZooResNetError) {
      return await genericClassifier(bytes, source, options);
    }
    throw error;
  }
  if (imported.format === "zoo-safetensors") {
    return await run(source, readZooWeights(bytes, source));
  }
  const info = await provenance(bytes, source, imported);
  return await run(source, { spec: imported.spec, weights: imported.weights, ...info });
}
