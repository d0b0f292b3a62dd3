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

import * as tf from "@tensorflow/tfjs-core";
import type { ResNetSpec } from "../arch/spec.ts";
import { PRESETS } from "../arch/presets.ts";
import { labelsFor } from "../arch/labels.ts";
import { defaultPreprocess } from "../arch/defaults.ts";
import { createModel as buildModel, type ModelOptions, type ZooModel } from "../runtime/model.ts";
import {
  createFeatureModel,
  type FeatureModel,
  type FeatureModelOptions,
} from "../runtime/features.ts";
import { DEFAULT_WEIGHTS, findWeights, REGISTRY, type WeightsEntry } from "../hub/registry.ts";
import { BUNDLED_ID } from "./bundled.ts";
import { locateModel, type ModelLocation, resolveLocation } from "./resolve.ts";

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
   * `resnet50.tv2_in1k`, see `DEFAULT_WEIGHTS`), a tag loads `ARCH.TAG`; absent or `false`,
   * fresh weights (as timm's `pretrained=False`). A registry id loads its weights unless this
   * is `false`.
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

/** A name that means fresh weights of an architecture, or where pretrained weights are. */
type Source = { kind: "architecture"; architecture: string } | ModelLocation;

/** The location of registry weights by id (the bundled model's id is the bundled file). */
function byId(
  id: string,
  registry: readonly WeightsEntry[],
  architecture?: string,
): ModelLocation {
  const named = architecture ? { architecture } : {};
  if (id === BUNDLED_ID) return { kind: "bundled", id, ...named };
  return { kind: "registry", id, entry: findWeights(id, registry), ...named };
}

/** The id of an architecture's weights with a tag (`resnet50` + `tv_in1k`). */
function taggedId(architecture: string, tag: string, registry: readonly WeightsEntry[]): string {
  const own = registry.filter((e) =>
    e.architecture === architecture || e.id.startsWith(`${architecture}.`)
  );
  const match = own.find((e) => e.id === `${architecture}.${tag}`) ??
    own.find((e) => e.id.endsWith(`.${tag}`));
  if (match) return match.id;
  const tags = own.map((e) => e.id.slice(e.id.indexOf(".") + 1));
  throw new RangeError(
    `no weights '${tag}' for ${architecture}; ` +
      (tags.length ? `its weights: ${tags.join(", ")}` : "it has none in the registry"),
  );
}

/**
 * What a name and `pretrained` mean, as timm's `create_model` reads them: an architecture is
 * fresh weights unless `pretrained` asks for its default or tagged ones; anything else is
 * located as `--model` is (registry ids, the bundled id, files, folders, with suggestions).
 */
async function locate(
  name: string,
  pretrained: boolean | string | undefined,
  registry: readonly WeightsEntry[],
): Promise<Source> {
  const isId = name === BUNDLED_ID || registry.some((e) => e.id === name);
  if (Object.hasOwn(PRESETS, name) && !isId) {
    if (!pretrained) return { kind: "architecture", architecture: name };
    if (pretrained !== true) return byId(taggedId(name, pretrained, registry), registry, name);
    const id = Object.hasOwn(DEFAULT_WEIGHTS, name) ? DEFAULT_WEIGHTS[name] : undefined;
    if (id === undefined) {
      throw new RangeError(`no pretrained weights for ${name} in the registry (see \`list\`)`);
    }
    return byId(id, registry, name);
  }
  if (typeof pretrained === "string") {
    throw new RangeError(
      `'${name}' names its weights already; pretrained: "${pretrained}" goes with an architecture`,
    );
  }
  const location = isId ? byId(name, registry) : await locateModel(name);
  if (pretrained !== false || location.kind === "file") return location;
  // An id with `pretrained: false`: its architecture, fresh.
  const architecture = findWeights(location.id, registry).architecture;
  return { kind: "architecture", architecture };
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
/** Creates a model (see the first overload): a classifier or a backbone without `features`. */
export async function createModel(
  name: string | ResNetSpec,
  options?: CreateOptions,
): Promise<ZooModel>;
export async function createModel(
  name: string | ResNetSpec,
  options: CreateOptions | CreateFeatureOptions = {},
): Promise<ZooModel | FeatureModel> {
  // A backend must be ready before any tensor exists: tfjs's best (wasm) when none was chosen.
  await tf.ready();
  const { pretrained, progress, registry, ...rest } = options;
  const build = (architecture: string | ResNetSpec) =>
    "features" in rest && rest.features
      ? createFeatureModel(architecture, rest as FeatureModelOptions)
      : buildModel(architecture, rest as ModelOptions);
  if (typeof name !== "string") return build(name);
  const source = await locate(name, pretrained, registry ?? REGISTRY);
  if (source.kind === "architecture") return build(source.architecture);
  const resolved = await resolveLocation(source, { progress });
  if (resolved.kind === "graph") {
    throw new RangeError(
      `${name} is no zoo ResNet (${resolved.reason.message}); ` +
        "run it with loadClassifier or loadGraphModel",
    );
  }
  const { spec, weights } = resolved.model;
  const info = await resolved.info();
  const preprocess = rest.preprocess ?? info.preprocess ?? defaultPreprocess(spec);
  if ("features" in rest && rest.features) {
    return createFeatureModel(spec, { ...rest, weights, preprocess });
  }
  const modelOptions = rest as ModelOptions;
  const ownHead = (modelOptions.includeTop ?? true) &&
    (modelOptions.classes === undefined || modelOptions.classes === spec.classes);
  const recorded = typeof info.labels === "string" ? labelsFor(info.labels) : info.labels;
  // Names of another count than the classes (a label set of another dataset) are left out.
  const names = recorded?.length === spec.classes ? recorded : undefined;
  const labels = modelOptions.labels ?? (ownHead ? names : undefined);
  return buildModel(spec, { ...modelOptions, weights, labels, preprocess });
}
