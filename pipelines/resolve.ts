/**
 * From a name to a model: a registry id, a weights file of any supported format, or the
 * bundled default, resolved to one of the zoo's ResNets (spec, weights, and what is known of
 * them) or, for a network that is none of them, to the file's own graph. This is the one place
 * that decides "a zoo ResNet, else its own graph": `loadClassifier` and the CLI's `predict`
 * and `convert` all ask here.
 *
 * @example
 * ```ts
 * import { resolveModel } from "./resolve.ts";
 * const zoo = await resolveModel("testdata/cifar10-resnet/resnet20-12fca82f.th");
 * const graph = await resolveModel("testdata/keras-mlperf-tiny/resnet8_cifar10.h5");
 * console.log(zoo.kind, graph.kind); // "zoo" "graph"
 * ```
 *
 * @module
 */

import { importBytes, type ImportedModel } from "../convert/import.ts";
import { readZooWeights, type ZooFileInfo } from "../convert/zoofile.ts";
import { detectFormat } from "../formats/detect.ts";
import { readWholeFile } from "../formats/files.ts";
import type { ResNetSpec } from "../arch/spec.ts";
import { NotZooResNetError } from "../arch/errors.ts";
import { type GraphModel, loadGraphModel } from "../graph/graph_model.ts";
import { BUNDLED_MODEL_NAME, DEFAULT_MODEL, readBundledModel } from "./bundled.ts";
import { isRegistryId, pullWeights } from "./pull.ts";
import { provenance } from "./provenance.ts";

/** Options of {@link resolveModel} and {@link resolveBytes}. */
export interface ResolveOptions {
  /** Draw a progress bar on stderr while a registry id downloads. */
  progress?: boolean;
  /**
   * Import a foreign file as this architecture: one that does not fit it is an error, not a
   * graph to run. (A zoo file, and so a registry id's, records its own.)
   */
  arch?: ResNetSpec;
}

/** A model that is one of the zoo's ResNets. */
export interface ZooResolution {
  /** Tells the two kinds of {@link ResolvedModel} apart. */
  kind: "zoo";
  /** How to name the model to a user: the registry id, the file's path, or the bundled name. */
  name: string;
  /** The architecture, its weights in the zoo layout, and what the file was. */
  model: ImportedModel;
  /**
   * Preprocessing, labels and provenance: what a zoo file records, else what `provenance`
   * finds for a foreign file (a registry entry that publishes its hash). Computed on the
   * first call, since it hashes a foreign file, which running it does not need.
   */
  info(): Promise<ZooFileInfo>;
}

/** A network that is none of the zoo's ResNets, to run from its own graph. */
export interface GraphResolution {
  /** Tells the two kinds of {@link ResolvedModel} apart. */
  kind: "graph";
  /** How to name the model to a user: the file's path. */
  name: string;
  /** Why the file is none of the zoo's ResNets. */
  reason: NotZooResNetError;
  /** The file's bytes when it is an ONNX graph, which onnxruntime can run as it is. */
  onnx?: Uint8Array;
  /**
   * Loads the file's own graph to run on tfjs. On demand: converting the network reads the
   * file with the Keras reader instead, and an ONNX graph is not converted at all.
   */
  load(): Promise<GraphModel>;
}

/** A model resolved from a name: a zoo ResNet, or a graph of its own. */
export type ResolvedModel = ZooResolution | GraphResolution;

/**
 * Resolves a weights file already in memory: a zoo file with what it records, any other file
 * the importer matches to a zoo spec, else (unless `arch` forces an architecture) the file's
 * own graph.
 *
 * @example
 * ```ts
 * import { useBackend } from "../runtime/backend.ts";
 * await useBackend("cpu"); // the graph runs on tfjs
 * const path = "testdata/keras-mlperf-tiny/resnet8_cifar10.h5";
 * const resolved = await resolveBytes(await Deno.readFile(path), path);
 * if (resolved.kind === "graph") {
 *   const graph = await resolved.load();
 *   console.log(graph.layout, graph.classes); // nhwc 10
 *   graph.dispose();
 * }
 * ```
 */
export async function resolveBytes(
  bytes: Uint8Array,
  source: string,
  options: ResolveOptions = {},
): Promise<ResolvedModel> {
  if (detectFormat(bytes, source) === "zoo-safetensors") {
    const { spec, weights, converter: _, ...recorded } = readZooWeights(bytes, source);
    const model: ImportedModel = { spec, weights, format: "zoo-safetensors", assumptions: [] };
    return { kind: "zoo", name: source, model, info: () => Promise.resolve(recorded) };
  }
  let model: ImportedModel;
  try {
    model = await importBytes(bytes, source, { arch: options.arch });
  } catch (error) {
    if (options.arch || !(error instanceof NotZooResNetError)) throw error;
    // Not one of the zoo's ResNets: the file's own graph runs instead.
    return {
      kind: "graph",
      name: source,
      reason: error,
      ...(detectFormat(bytes, source) === "onnx" ? { onnx: bytes } : {}),
      load: () => loadGraphModel(bytes, source),
    };
  }
  let info: Promise<ZooFileInfo> | undefined;
  return {
    kind: "zoo",
    name: source,
    model,
    info: () => info ??= provenance(bytes, source, model),
  };
}

/**
 * Resolves a registry id (downloaded, verified and converted once, then read from the cache),
 * a weights file, or without a name the bundled CIFAR-10 ResNet-20.
 *
 * @example
 * ```ts
 * const bundled = await resolveModel();
 * if (bundled.kind === "zoo") {
 *   console.log(bundled.name, bundled.model.spec.name); // "cifar_resnet20.cifar10 (bundled)" "cifar_resnet20"
 *   console.log((await bundled.info()).labels); // "cifar10"
 * }
 * ```
 */
export async function resolveModel(
  source?: string,
  options: ResolveOptions = {},
): Promise<ResolvedModel> {
  if (source === undefined) {
    const resolved = await resolveBytes(await readBundledModel(), DEFAULT_MODEL.pathname);
    return { ...resolved, name: BUNDLED_MODEL_NAME };
  }
  if (isRegistryId(source)) {
    const path = await pullWeights(source, options);
    return { ...await resolveBytes(await readWholeFile(path), path), name: source };
  }
  return await resolveBytes(await readWholeFile(source), source, options);
}
