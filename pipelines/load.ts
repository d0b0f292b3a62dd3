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
import { type LabelSet, labelsFor } from "../arch/labels.ts";
import type { PreprocessSpec } from "../arch/preprocess.ts";
import { defaultLabelSet, defaultPreprocess } from "../arch/defaults.ts";
import {
  type Engine,
  type EngineChoice,
  ortEngineFromOnnx,
  prefersOrt,
} from "../runtime/engine.ts";
import type { Classifier } from "./classify.ts";
import { cachedOnnxExport, isRegistryId, pullWeights } from "./pull.ts";
import { resolveModel } from "./resolve.ts";
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
  /** Label set, overriding what the weights file records. */
  labels?: LabelSet;
  /** onnxruntime graph optimisation (see `OrtSessionOptions.optimization`). */
  ortOptimization?: "all" | "extended";
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
    labels: labelsFor(options.labels ?? info.labels ?? defaultLabelSet(spec.classes)),
    outputs: "logits",
  };
}

/**
 * Loads a classifier from a registry id, a weights file (any supported format: a zoo
 * ResNet, or any Keras/ONNX CNN from common layers) or, by default, the bundled CIFAR-10
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
  if (source !== undefined && isRegistryId(source) && await prefersOrt(engine)) {
    const path = await pullWeights(source, options);
    const header = await readZooHeader(path);
    const onnx = await cachedOnnxExport(path);
    return zooClassifier(
      source,
      header.spec,
      header,
      await ortEngineFromOnnx(onnx, ortOptions),
      options,
    );
  }
  const resolved = await resolveModel(source, { progress: options.progress });
  const opened = await openEngine(resolved, { engine, ortOptimization: options.ortOptimization });
  if (resolved.kind === "zoo") {
    return zooClassifier(
      resolved.name,
      resolved.model.spec,
      await resolved.info(),
      opened.engine,
      options,
    );
  }
  return {
    name: resolved.name,
    engine: opened.engine,
    preprocess: options.preprocess ?? defaultPreprocess(),
    labels: labelsFor(options.labels ?? defaultLabelSet(opened.classes)),
    outputs: opened.outputs,
  };
}
