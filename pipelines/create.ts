/**
 * From a name to a model in one call (timm's `create_model`, Keras Applications' `weights=`):
 * a registry id, an architecture with its default or tagged pretrained weights, a weights
 * file, or a spec. Registry weights are pulled through the cache and converted once; the
 * model carries the entry's preprocessing and class names. The bundled model works offline
 * under its id.
 *
 * @example
 * ```ts
 * import { createModel } from "./create.ts";
 * const model = await createModel("cifar_resnet20.cifar10"); // the bundled file, offline
 * console.log(model.spec.name, model.labels?.[3], model.preprocess?.size); // cifar_resnet20 cat [ 32, 32 ]
 * model.dispose();
 * ```
 *
 * @module
 */

import type { ResNetSpec } from "../arch/spec.ts";
import { getSpec } from "../arch/presets.ts";
import { labelsFor } from "../arch/labels.ts";
import { defaultPreprocess } from "../arch/defaults.ts";
import type { WeightMap } from "../arch/weights.ts";
import { readZooWeights, type ZooFileInfo } from "../convert/zoofile.ts";
import { readWholeFile } from "../formats/files.ts";
import { createModel as buildModel, type ModelOptions, type ZooModel } from "../runtime/model.ts";
import {
  createFeatureModel,
  type FeatureModel,
  type FeatureModelOptions,
} from "../runtime/features.ts";
import { findWeights, type WeightsEntry } from "../hub/registry.ts";
import { BUNDLED_MODEL_ID, DEFAULT_MODEL, readBundledModel } from "./bundled.ts";
import { pullWeights } from "./pull.ts";
import { type ModelName, resolveModel, resolveModelName } from "./resolve.ts";

/**
 * Where the weights come from, beside what any model takes.
 *
 * @example
 * ```ts
 * import type { PretrainedOptions } from "./create.ts";
 * const options: PretrainedOptions = { pretrained: "tv2_in1k", progress: true };
 * console.log(options.pretrained); // tv2_in1k
 * ```
 */
export interface PretrainedOptions {
  /**
   * For an architecture name: `true` loads its default weights (`resnet50` →
   * `resnet50.tv2_in1k`), a tag loads `ARCH.TAG`; absent or `false`, fresh weights. A registry
   * id loads its weights unless this is `false`.
   */
  pretrained?: boolean | string;
  /** Draw a download progress bar on stderr. */
  progress?: boolean;
  /** Where ids are looked up (default: the built-in `REGISTRY`), e.g. with private entries. */
  registry?: readonly WeightsEntry[];
}

/**
 * Options of {@link createModel}: the model's (head, input, layout, seed) and the weights'.
 *
 * @example
 * ```ts
 * import { type CreateOptions, createModel } from "./create.ts";
 * const options: CreateOptions = { pretrained: true, includeTop: false, pooling: "avg" };
 * const model = await createModel("cifar_resnet20", options);
 * console.log(model.plan.nodes.at(-1)?.op); // globalPool
 * ```
 */
export type CreateOptions = ModelOptions & PretrainedOptions;

/**
 * Options of {@link createModel} for a feature extractor.
 *
 * @example
 * ```ts
 * import { type CreateFeatureOptions, createModel } from "./create.ts";
 * const options: CreateFeatureOptions = { pretrained: true, features: { outIndices: [3] } };
 * const model = await createModel("cifar_resnet20", options);
 * console.log(model.featureInfo[0].channels); // 64
 * ```
 */
export type CreateFeatureOptions = FeatureModelOptions & PretrainedOptions;

/** Pretrained weights and what their file records. */
interface Pretrained {
  spec: ResNetSpec;
  weights: WeightMap;
  info: ZooFileInfo;
}

/** The weights a resolved name stands for. */
async function pretrainedWeights(
  name: Exclude<ModelName, { kind: "architecture" }>,
  options: PretrainedOptions,
): Promise<Pretrained> {
  if (name.kind === "file") {
    const resolved = await resolveModel(name.path);
    if (resolved.kind === "graph") {
      throw new RangeError(
        `${name.path} is no zoo ResNet (${resolved.reason.message}); ` +
          "run it with loadClassifier or loadGraphModel",
      );
    }
    return { ...resolved.model, info: await resolved.info() };
  }
  const path = name.id === BUNDLED_MODEL_ID
    ? DEFAULT_MODEL.pathname
    : await pullWeights(name.id, { progress: options.progress, registry: options.registry });
  const bytes = name.id === BUNDLED_MODEL_ID ? await readBundledModel() : await readWholeFile(path);
  const { spec, weights, ...info } = readZooWeights(bytes, path);
  return { spec, weights, info };
}

/**
 * Creates a model from a registry id, an architecture (with `pretrained`), a weights file or
 * a spec. With pretrained weights, `includeTop: false` drops the classifier, `classes: N` (of
 * another size) starts a fresh, seeded one, and `features` returns feature maps; the model
 * carries the weights' preprocessing and, while its classifier is theirs, their class names.
 *
 * @throws {RangeError} For an unknown name (with the closest ids and architectures), an
 *   architecture without the weights asked for, or a file that is no zoo ResNet.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { useBackend } from "../runtime/backend.ts";
 * await useBackend("wasm");
 * const backbone = await createModel("cifar_resnet20", { pretrained: true, includeTop: false, pooling: "avg" });
 * console.log(backbone.predict(tf.zeros([2, 32, 32, 3])).shape); // [ 2, 64 ]
 * const twoClasses = await createModel("cifar_resnet20.cifar10", { classes: 2, seed: 1 });
 * console.log(twoClasses.spec.classes, twoClasses.labels); // 2 undefined
 * const fresh = await createModel("resnet18");
 * console.log(fresh.preprocess); // undefined: fresh weights were trained on nothing
 * ```
 */
export async function createModel(
  name: string | ResNetSpec,
  options: CreateFeatureOptions,
): Promise<FeatureModel>;
export async function createModel(
  name: string | ResNetSpec,
  options?: CreateOptions,
): Promise<ZooModel>;
export async function createModel(
  name: string | ResNetSpec,
  options: CreateOptions | CreateFeatureOptions = {},
): Promise<ZooModel | FeatureModel> {
  const { pretrained, progress, registry, ...rest } = options;
  const build = (architecture: string | ResNetSpec) =>
    "features" in rest && rest.features
      ? createFeatureModel(architecture, rest as FeatureModelOptions)
      : buildModel(architecture, rest as ModelOptions);
  if (typeof name !== "string") return build(name);
  const resolved = await resolveModelName(name, pretrained, registry);
  if (resolved.kind === "architecture") return build(resolved.architecture);
  if (resolved.kind === "weights" && pretrained === false) {
    const id = resolved.id;
    return build(
      id === BUNDLED_MODEL_ID ? getSpec("cifar_resnet20") : findWeights(id, registry).architecture,
    );
  }
  const { spec, weights, info } = await pretrainedWeights(resolved, { progress, registry });
  const preprocess = rest.preprocess ?? info.preprocess ?? defaultPreprocess(spec);
  if ("features" in rest && rest.features) {
    return createFeatureModel(spec, { ...rest, weights, preprocess });
  }
  const modelOptions = rest as ModelOptions;
  const ownHead = (modelOptions.includeTop ?? true) &&
    (modelOptions.classes === undefined || modelOptions.classes === spec.classes);
  const names = info.classNames ?? (info.labels ? labelsFor(info.labels) : undefined);
  const labels = modelOptions.labels ??
    (ownHead && names?.length === spec.classes ? names : undefined);
  return buildModel(spec, { ...modelOptions, weights, labels, preprocess });
}
