/**
 * From a name to a ready classifier: the bundled default model, a weights file of any
 * supported format (a zoo ResNet, or any Keras/ONNX CNN run from its own graph), or a
 * registry id (downloaded, verified and converted to the zoo's own file once, then
 * reused from the cache). What the name is resolves in `resolve.ts`; here it gets an engine,
 * preprocessing and labels.
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

import * as tf from "@tensorflow/tfjs-core";
import { readZooHeader, type ZooFileInfo } from "../convert/zoofile.ts";
import type { ResNetSpec } from "../arch/spec.ts";
import { classNames, type Labels } from "../arch/labels.ts";
import type { PreprocessSpec } from "../arch/preprocess.ts";
import { defaultLabelSet, defaultPreprocess, graphPreprocess } from "../arch/defaults.ts";
import { createModel } from "../runtime/model.ts";
import {
  createEngine,
  type Engine,
  type EngineChoice,
  ortEngineFromOnnx,
  prefersOrt,
} from "../runtime/engine.ts";
import type { Classifier } from "./classify.ts";
import { cachedOnnxExport } from "./pull.ts";
import {
  type GraphResolution,
  locateModel,
  ownGraphWarning,
  pullLocated,
  resolveLocation,
} from "./resolve.ts";
import type { ShortcutChoice } from "../convert/structure.ts";
import { openEngine } from "./model_engine.ts";

/**
 * Options of {@link loadClassifier}.
 *
 * @example
 * ```ts
 * import { PREPROCESS_PRESETS } from "../arch/preprocess.ts";
 * import { loadClassifier, type LoadOptions } from "./load.ts";
 * const options: LoadOptions = { engine: "tfjs", preprocess: PREPROCESS_PRESETS.CIFAR10_TORCH };
 * const classifier = await loadClassifier(undefined, options);
 * console.log(classifier.engine.name.startsWith("tfjs")); // true
 * await classifier.engine.dispose();
 * ```
 */
export interface LoadOptions {
  /** Draw a download progress bar on stderr. */
  progress?: boolean;
  /** Engine to run on (default `auto`: the fastest that loads here). */
  engine?: EngineChoice;
  /** Preprocessing, overriding what the weights file records. */
  preprocess?: PreprocessSpec;
  /**
   * Class names, overriding what the weights file records: a label set the zoo knows, or the
   * names themselves. Refused when their number is not the model's number of classes.
   */
  labels?: Labels;
  /** onnxruntime graph optimisation (see `OrtSessionOptions.optimization`). */
  ortOptimization?: "all" | "extended";
  /** The option-A shortcut variant where a weights-only file cannot tell (`--shortcut`). */
  shortcut?: ShortcutChoice;
}

/**
 * The class names of a model with `classes` outputs: the caller's, else what the file records,
 * else the label set of that size, else the class indices.
 */
function namesFor(classes: number, ...choices: (Labels | undefined)[]): readonly string[] {
  const labels = choices.find((l) => l !== undefined) ?? defaultLabelSet(classes);
  return labels === undefined
    ? Array.from({ length: classes }, (_, i) => String(i))
    : classNames(labels, classes);
}

/** A zoo model's classifier: the caller's choices, else what is recorded, else its family's. */
function zooClassifier(
  name: string,
  spec: ResNetSpec,
  info: ZooFileInfo,
  engine: Engine,
  options: LoadOptions,
): Classifier {
  return {
    name,
    engine,
    preprocess: options.preprocess ?? info.preprocess ?? defaultPreprocess(spec),
    labels: namesFor(spec.classes, options.labels, info.labels),
    outputs: "logits",
  };
}

/**
 * A network's own graph as a classifier (the caller's preprocessing and labels, else what the
 * file records, else what its shape suggests): on tfjs, or an ONNX graph on onnxruntime when that
 * engine is asked for by name (a Keras graph cannot run there, which is said, not ignored).
 */
async function graphClassifier(
  resolved: GraphResolution,
  options: LoadOptions,
): Promise<Classifier> {
  const { engine, shape } = await openEngine(resolved, {
    engine: options.engine,
    ortOptimization: options.ortOptimization,
  });
  return {
    name: resolved.name,
    engine,
    preprocess: options.preprocess ?? shape.usage?.preprocess ?? graphPreprocess(shape.inputSize),
    labels: namesFor(shape.classes, options.labels, shape.usage?.labels),
    outputs: shape.outputs,
    warnings: [ownGraphWarning(resolved)],
  };
}

/**
 * Loads a classifier from a model name (see `locateModel`: a registry id, an architecture's
 * default weights, a weights file of any supported format — a zoo ResNet, or any Keras/ONNX
 * CNN from common layers — or a folder `convert` wrote) or, by default, the bundled CIFAR-10
 * ResNet-20. A registry model bound for onnxruntime starts from the ONNX export cached beside
 * its zoo file (see `cachedOnnxExport`), reading only the zoo file's header.
 *
 * @example
 * ```ts
 * const c = await loadClassifier("testdata/cifar10-resnet/resnet20-12fca82f.th");
 * console.log(c.labels[3]); // "cat"
 * await c.engine.dispose();
 * ```
 */
export async function loadClassifier(
  source?: string,
  options: LoadOptions = {},
): Promise<Classifier> {
  // A backend must be ready before any tensor exists; keep one the caller chose.
  await tf.ready();
  const engine = options.engine ?? "auto";
  const ortOptions = { optimization: options.ortOptimization };
  const location = await locateModel(source);
  if (location.kind === "registry" && await prefersOrt(engine)) {
    const path = await pullLocated(location, options);
    const header = await readZooHeader(path);
    const onnx = await cachedOnnxExport(path);
    const name = header.calibration ? "onnxruntime (int8)" : "onnxruntime";
    return zooClassifier(
      location.id,
      header.spec,
      header,
      await ortEngineFromOnnx(onnx, ortOptions, "nchw", name),
      options,
    );
  }
  const resolved = await resolveLocation(location, {
    progress: options.progress,
    shortcut: options.shortcut,
  });
  if (resolved.kind === "graph") return await graphClassifier(resolved, options);
  const { spec, weights, assumptions } = resolved.model;
  const info = await resolved.info();
  const model = createModel(spec, { weights });
  // An int8 file's calibration makes onnxruntime run it in int8.
  const engineOptions = { ...ortOptions, calibration: info.calibration };
  return {
    ...zooClassifier(
      resolved.name,
      spec,
      info,
      await createEngine(model, engine, engineOptions),
      options,
    ),
    warnings: assumptions,
  };
}
