/**
 * From a name to a model, in two steps that every command and `loadClassifier` share.
 *
 * 1. What a name means ({@link locateModel}), as timm resolves names: a registry id
 *    (`resnet50.tv2_in1k`); an architecture, meaning its default weights (`resnet50` →
 *    `resnet50.tv2_in1k`, see `DEFAULT_WEIGHTS`); the bundled model's id
 *    (`cifar_resnet20.cifar10`), which is the file shipped with the package and never
 *    downloaded; a weights file; or a folder `convert` wrote (its `model.json` or its one
 *    `.safetensors` file). Registry names come first, so a file named like an architecture is
 *    given as `./resnet50`. A near miss fails with "did you mean".
 * 2. What the bytes are ({@link resolveBytes}): one of the zoo's ResNets (spec, weights, and
 *    what is known of them) or, for a network that is none of them, the file's own graph. This
 *    is the one place that decides "a zoo ResNet, else its own graph".
 *
 * @example
 * ```ts
 * import { locateModel, resolveModel } from "./resolve.ts";
 * const where = await locateModel("resnet50");
 * console.log(where.kind, where.kind === "registry" && where.id); // registry resnet50.tv2_in1k
 * const zoo = await resolveModel("testdata/cifar10-resnet/resnet20-12fca82f.th");
 * const graph = await resolveModel("testdata/keras-mlperf-tiny/resnet8_cifar10.h5");
 * console.log(zoo.kind, graph.kind); // "zoo" "graph"
 * ```
 *
 * @module
 */

import { importBytes, type ImportedModel } from "../convert/import.ts";
import type { ShortcutChoice } from "../convert/structure.ts";
import { readZooWeights, type ZooFileInfo } from "../convert/zoofile.ts";
import { detectFormat } from "../formats/detect.ts";
import { readWholeFile } from "../formats/files.ts";
import type { ResNetSpec } from "../arch/spec.ts";
import { NotZooResNetError } from "../arch/errors.ts";
import { type GraphModel, loadGraphModel } from "../graph/graph_model.ts";
import { messageOf } from "../arch/errors.ts";
import { closestNames } from "../arch/suggest.ts";
import { PRESETS } from "../arch/presets.ts";
import { withPath } from "../formats/files.ts";
import { DEFAULT_WEIGHTS, defaultWeights, REGISTRY, type WeightsEntry } from "../hub/registry.ts";
import { BUNDLED_ID, BUNDLED_MODEL_NAME, DEFAULT_MODEL, readBundledModel } from "./bundled.ts";
import { pullWeights } from "./pull.ts";
import { provenance } from "./provenance.ts";

/**
 * What a model name means, before anything is read (see {@link locateModel}).
 *
 * @example
 * ```ts
 * import { locateModel, type ModelLocation } from "./resolve.ts";
 * const where: ModelLocation = await locateModel("cifar_resnet20.cifar10");
 * console.log(where.kind); // bundled
 * ```
 */
export type ModelLocation =
  | {
    /** The model shipped with the package (`models/cifar_resnet20.safetensors`). */
    kind: "bundled";
    /** Its registry id. */
    id: string;
    /** The architecture the name was, when it was one (`cifar_resnet20`). */
    architecture?: string;
  }
  | {
    /** Published weights, downloaded and converted into the cache on first use. */
    kind: "registry";
    /** The registry id. */
    id: string;
    /** The registry entry. */
    entry: WeightsEntry;
    /** The architecture the name was, when it was one: the id is its default weights. */
    architecture?: string;
  }
  | {
    /** A weights file (for a folder `convert` wrote: the file inside it). */
    kind: "file";
    /** The file's path. */
    path: string;
  };

/** A location in the registry: published weights, or the bundled model. */
export type RegistryLocation = Exclude<ModelLocation, { kind: "file" }>;

/**
 * What a name means in the registry alone, without touching the disk: a registry id, an
 * architecture (its default weights), or the bundled model's id; undefined for anything else.
 * For callers that must not do I/O; {@link locateModel} adds files, folders and suggestions.
 *
 * @example
 * ```ts
 * import { registryLocation } from "./resolve.ts";
 * console.log(registryLocation("resnet50")?.id, registryLocation("model.onnx")); // resnet50.tv2_in1k undefined
 * console.log(registryLocation("cifar_resnet20")?.kind); // bundled
 * ```
 */
export function registryLocation(name: string): RegistryLocation | undefined {
  const byId = REGISTRY.find((e) => e.id === name);
  const entry = byId ?? defaultWeights(name);
  if (!entry) return undefined;
  const architecture = byId ? undefined : name;
  if (entry.id === BUNDLED_ID) {
    return architecture ? { kind: "bundled", id: entry.id, architecture } : {
      kind: "bundled",
      id: entry.id,
    };
  }
  return architecture
    ? { kind: "registry", id: entry.id, entry, architecture }
    : { kind: "registry", id: entry.id, entry };
}

/** Every name {@link registryLocation} knows, for suggestions. */
function knownNames(): string[] {
  return [...Object.keys(DEFAULT_WEIGHTS), ...REGISTRY.map((e) => e.id)];
}

/** The model file in a folder `convert` wrote: its `model.json`, else its one zoo file. */
async function modelInFolder(folder: string): Promise<string> {
  const names: string[] = [];
  try {
    for await (const item of Deno.readDir(folder)) if (item.isFile) names.push(item.name);
  } catch (error) {
    throw withPath(error, folder);
  }
  const base = folder.replace(/\/+$/, "");
  if (names.includes("model.json")) return `${base}/model.json`;
  const zooFiles = names.filter((n) => n.endsWith(".safetensors")).sort();
  if (zooFiles.length === 1) return `${base}/${zooFiles[0]}`;
  throw new Deno.errors.NotFound(
    zooFiles.length === 0
      ? `${folder} is a folder without a model.json or a .safetensors file (what \`convert\` ` +
        `writes into a folder); name the weights file itself`
      : `${folder} holds several models (${zooFiles.join(", ")}); name one of them`,
  );
}

/**
 * What a model name means: the bundled model when there is no name; else a registry id, an
 * architecture (its default weights: `resnet50` is `resnet50.tv2_in1k`) or the bundled
 * model's id; else a file, or a folder that `convert` wrote (its `model.json`, else its one
 * `.safetensors` file). Nothing is downloaded or read but directory entries.
 *
 * @throws {Deno.errors.NotFound} For a name that is none of these, with the nearest ids and
 *   architectures; for an architecture without published weights; for a folder with no model.
 *
 * @example
 * ```ts
 * console.log((await locateModel()).kind); // bundled
 * console.log(await locateModel("testdata/cifar10-resnet/resnet20-12fca82f.th")); // { kind: "file", path: "testdata/cifar10-resnet/resnet20-12fca82f.th" }
 * try {
 *   await locateModel("resnt50");
 * } catch (error) {
 *   console.log((error as Error).message);
 *   // no model 'resnt50': not a registry id, an architecture, a file or a folder (did you mean resnet50?)
 * }
 * ```
 */
export async function locateModel(name?: string): Promise<ModelLocation> {
  if (name === undefined) return { kind: "bundled", id: BUNDLED_ID };
  const known = registryLocation(name);
  if (known) return known;
  let info: Deno.FileInfo | undefined;
  try {
    info = await Deno.stat(name);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw withPath(error, name);
  }
  if (info?.isDirectory) return { kind: "file", path: await modelInFolder(name) };
  if (info) return { kind: "file", path: name };
  if (Object.hasOwn(PRESETS, name)) {
    throw new Deno.errors.NotFound(
      `${name} is an architecture without pretrained weights in the registry (see \`list\`); ` +
        `name a weights file, or build it with random weights (createModel, \`bench --model\`)`,
    );
  }
  throw new Deno.errors.NotFound(
    `no model '${name}': not a registry id, an architecture, a file or a folder` +
      didYouMeanModel(name),
  );
}

/** ` (did you mean …?)` with the ids and architectures nearest to a name, or nothing. */
function didYouMeanModel(name: string): string {
  const close = closestNames(name, knownNames());
  return close.length ? ` (did you mean ${close.join(", ")}?)` : "";
}

/**
 * The zoo file in the cache of a registry location, pulled (downloaded, verified, converted)
 * on first use. When the name was an architecture, a failure says which id it meant.
 *
 * @example
 * ```ts
 * import { cachedPath } from "../hub/cache.ts";
 * import { findWeights } from "../hub/registry.ts";
 * Deno.env.set("DENOZOO_HOME", await Deno.makeTempDir());
 * Deno.env.set("DENOZOO_OFFLINE", "1");
 * try {
 *   await pullLocated({ kind: "registry", id: "resnet50.tv2_in1k", entry: findWeights("resnet50.tv2_in1k"), architecture: "resnet50" });
 * } catch (error) {
 *   console.log((error as Error).message);
 *   // resnet50 means resnet50.tv2_in1k (the default weights of resnet50): DENOZOO_OFFLINE is set and …
 * }
 * Deno.env.delete("DENOZOO_OFFLINE");
 * Deno.env.delete("DENOZOO_HOME");
 * ```
 */
export async function pullLocated(
  location: Extract<ModelLocation, { kind: "registry" }>,
  options: { progress?: boolean } = {},
): Promise<string> {
  try {
    // The location's own entry: a caller's registry may hold entries the built-in one lacks.
    return await pullWeights(location.id, { ...options, registry: [location.entry] });
  } catch (error) {
    if (location.architecture && error instanceof Error) {
      error.message = `${location.architecture} means ${location.id} (the default weights of ` +
        `${location.architecture}): ${messageOf(error)}`;
    }
    throw error;
  }
}

/** Options of {@link resolveModel} and {@link resolveBytes}. */
export interface ResolveOptions {
  /** Draw a progress bar on stderr while a registry id downloads. */
  progress?: boolean;
  /**
   * Import a foreign file as this architecture: one that does not fit it is an error, not a
   * graph to run. (A zoo file, and so a registry id's, records its own.)
   */
  arch?: ResNetSpec;
  /** The option-A shortcut variant where a weights-only file cannot tell (`--shortcut`). */
  shortcut?: ShortcutChoice;
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
  const format = detectFormat(bytes, source);
  if (format === "zoo-safetensors") {
    const { spec, weights, converter: _, ...recorded } = readZooWeights(bytes, source);
    const model: ImportedModel = { spec, weights, format: "zoo-safetensors", assumptions: [] };
    return { kind: "zoo", name: source, model, info: () => Promise.resolve(recorded) };
  }
  let model: ImportedModel;
  try {
    model = await importBytes(bytes, source, { arch: options.arch, shortcut: options.shortcut });
  } catch (error) {
    if (options.arch || !(error instanceof NotZooResNetError)) throw error;
    // Not one of the zoo's ResNets: the file's own graph runs instead.
    return {
      kind: "graph",
      name: source,
      reason: error,
      onnx: format === "onnx" ? bytes : undefined,
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
 * Resolves a model name (see {@link locateModel}): a registry id or architecture (downloaded,
 * verified and converted once, then read from the cache), the bundled model (without a name,
 * or by its id), a weights file or a folder `convert` wrote.
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
  return await resolveLocation(await locateModel(source), options);
}

/**
 * Resolves a located model (see {@link locateModel}) to a zoo ResNet or a graph.
 *
 * @example
 * ```ts
 * const resolved = await resolveLocation(await locateModel("cifar_resnet20.cifar10"));
 * console.log(resolved.name); // cifar_resnet20.cifar10 (bundled)
 * ```
 */
export async function resolveLocation(
  location: ModelLocation,
  options: ResolveOptions = {},
): Promise<ResolvedModel> {
  switch (location.kind) {
    case "bundled": {
      const resolved = await resolveBytes(await readBundledModel(), DEFAULT_MODEL.pathname);
      return { ...resolved, name: BUNDLED_MODEL_NAME };
    }
    case "registry": {
      const path = await pullLocated(location, options);
      return { ...await resolveBytes(await readWholeFile(path), path), name: location.id };
    }
    case "file":
      return await resolveBytes(await readWholeFile(location.path), location.path, options);
  }
}

/**
 * Why a network runs as its own graph, in one line for a user.
 *
 * @example
 * ```ts
 * const resolved = await resolveModel("testdata/keras-mlperf-tiny/resnet8_cifar10.h5");
 * if (resolved.kind === "graph") console.log(ownGraphWarning(resolved).startsWith("runs as its own graph")); // true
 * ```
 */
export function ownGraphWarning(resolved: GraphResolution): string {
  return `runs as its own graph: ${resolved.reason.message.replace(`${resolved.name}: `, "")}`;
}
