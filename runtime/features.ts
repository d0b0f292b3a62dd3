/**
 * A ResNet as a multi-scale backbone: `createModel(arch, { features: { outIndices } })` gives a
 * {@link FeatureModel} whose `predict` returns the stem's and stages' maps (timm's
 * `features_only`, torchvision's `create_feature_extractor`), with `featureInfo` saying what
 * each map is. It runs on tfjs (the folded path, or a multi-output LayersModel) and on
 * onnxruntime through an export with one output per map ({@link createFeatureEngine}).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { useBackend } from "./backend.ts";
 * import { createFeatureModel } from "./features.ts";
 * await useBackend("wasm");
 * const backbone = createFeatureModel("resnet50", { features: {} });
 * const maps = backbone.predict(tf.zeros([1, 224, 224, 3]));
 * console.log(maps.map((m) => m.shape[1]), backbone.featureInfo.map((f) => f.reduction));
 * // [ 56, 28, 14, 7 ] [ 4, 8, 16, 32 ]
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import type { LayersModel, Tensor, Tensor4D } from "./tensor.ts";
import { checkInputShape, defaultInputSize, type ResNetSpec } from "../arch/spec.ts";
import { getSpec } from "../arch/presets.ts";
import { countParams, type ParamCounts } from "../arch/plan.ts";
import {
  type FeatureInfo,
  type FeatureOptions,
  type FeaturePlan,
  planFeatures,
} from "../arch/features.ts";
import { fitWeights, initialWeights, type WeightMap } from "../arch/weights.ts";
import type { PreprocessSpec } from "../arch/preprocess.ts";
import { exportOnnx } from "../convert/onnx_export.ts";
import type { DataFormat } from "./layers.ts";
import { compileInference, type InferenceGraph } from "./infer.ts";
import { startBackendIfNone, tfjsEngineName } from "./backend.ts";
import { type EngineChoice, resolveEngine } from "./engine.ts";
import { createOrtSession, type OrtSessionOptions } from "./ort.ts";
import { trainableLayersModel } from "./trainable.ts";

/**
 * Options of a feature extractor: which maps, plus what any model takes.
 *
 * @example
 * ```ts
 * import type { FeatureModelOptions } from "./features.ts";
 * const options: FeatureModelOptions = { features: { outIndices: [1, 2, 3] }, seed: 1 };
 * console.log(options.features.outIndices); // [ 1, 2, 3 ]
 * ```
 */
export interface FeatureModelOptions {
  /** Which maps (default: every stage). */
  features: FeatureOptions;
  /** Input layout of `predict` and the LayersModel, and so of the maps (default `channels_last`). */
  dataFormat?: DataFormat;
  /** Spatial input size of the LayersModel (`predict` takes any size ≥ 32). */
  inputShape?: [number, number];
  /** Pretrained weights (a classifier and layers past the last map are dropped). */
  weights?: WeightMap;
  /** Seed of the initial weights when `weights` is not given. */
  seed?: number;
  /** The preprocessing the weights expect, carried with the model. */
  preprocess?: PreprocessSpec;
}

/**
 * A backbone that returns feature maps.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { useBackend } from "./backend.ts";
 * import { createFeatureModel, type FeatureModel } from "./features.ts";
 * await useBackend("wasm");
 * const model: FeatureModel = createFeatureModel("cifar_resnet20", { features: { outIndices: [0, 3] } });
 * console.log(model.predict(tf.zeros([1, 32, 32, 3])).map((t) => t.shape)); // [ [ 1, 32, 32, 16 ], [ 1, 8, 8, 64 ] ]
 * ```
 */
export interface FeatureModel {
  /** The architecture. */
  readonly spec: ResNetSpec;
  /** The plan: headless, cut after the last map, with the maps as `outputs`. */
  readonly plan: FeaturePlan;
  /** Input layout of `predict`; the maps come in the same layout. */
  readonly dataFormat: DataFormat;
  /** The weights the maps need (zoo layout). */
  readonly weights: WeightMap;
  /** What each map is: index, module, channels, reduction (timm's `feature_info`). */
  readonly featureInfo: FeatureInfo[];
  /** The preprocessing the weights expect, where known. */
  readonly preprocess?: PreprocessSpec;
  /** The maps for a float32 batch, in the order of `featureInfo`, on the folded path. */
  predict(x: Tensor4D): Tensor[];
  /** A trainable LayersModel with one output per map, built on first access. */
  readonly layersModel: LayersModel;
  /** Parameter counts of the layers the maps need. */
  countParams(): ParamCounts;
  /** Frees every tensor the model holds. */
  dispose(): void;
}

/**
 * Creates a feature extractor (what `createModel` returns given `features`).
 *
 * @example
 * ```ts
 * import { getSpec } from "../arch/presets.ts";
 * const model = createFeatureModel(getSpec("resnet18"), { features: {} });
 * console.log(model.featureInfo.map((f) => f.channels)); // [ 64, 128, 256, 512 ]
 * ```
 */
export function createFeatureModel(
  architecture: string | ResNetSpec,
  options: FeatureModelOptions,
): FeatureModel {
  const spec = typeof architecture === "string" ? getSpec(architecture) : architecture;
  const plan = planFeatures(spec, options.features);
  const weights = options.weights
    ? fitWeights(spec, plan, options.weights)
    : initialWeights(plan, options.seed);
  checkInputShape(options.inputShape);
  const dataFormat = options.dataFormat ?? "channels_last";
  const size = defaultInputSize(spec);
  const channelsFirst = dataFormat === "channels_first";
  let graph: InferenceGraph | null = null;
  let layersModel: LayersModel | null = null;
  return {
    spec,
    plan,
    dataFormat,
    weights,
    featureInfo: plan.featureInfo,
    preprocess: options.preprocess,
    predict(x: Tensor4D): Tensor[] {
      startBackendIfNone();
      graph ??= compileInference(plan, weights);
      if (!channelsFirst) return graph.runAll(x);
      return tf.tidy(() =>
        graph!.runAll(tf.transpose(x, [0, 2, 3, 1])).map((m) => tf.transpose(m, [0, 3, 1, 2]))
      );
    },
    get layersModel() {
      layersModel ??= trainableLayersModel(
        plan,
        { inputShape: options.inputShape ?? [size, size], dataFormat, name: spec.name },
        weights,
      );
      return layersModel;
    },
    countParams: () => countParams(plan),
    dispose() {
      graph?.dispose();
      layersModel?.dispose();
      graph = null;
      layersModel = null;
    },
  };
}

/**
 * What runs a feature extractor: NHWC batches in, NHWC maps out.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { useBackend } from "./backend.ts";
 * import { createFeatureEngine, createFeatureModel, type FeatureEngine } from "./features.ts";
 * await useBackend("wasm");
 * const engine: FeatureEngine = await createFeatureEngine(createFeatureModel("cifar_resnet20", { features: {} }));
 * console.log((await engine.predict(tf.zeros([1, 32, 32, 3]))).length); // 3
 * await engine.dispose();
 * ```
 */
export interface FeatureEngine {
  /** Engine and backend, e.g. `tfjs-wasm` or `onnxruntime`. */
  readonly name: string;
  /** The maps of a channels_last batch, NHWC; the caller disposes them. */
  predict(x: Tensor4D): Promise<Tensor[]>;
  /** Frees the engine (not the model it came from). */
  dispose(): Promise<void>;
}

/**
 * Runs a feature extractor on the engine a choice names (as `createEngine` chooses): tfjs on
 * the folded path, or onnxruntime on an in-memory export with one output per map.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { useBackend } from "./backend.ts";
 * await useBackend("wasm");
 * const model = createFeatureModel("cifar_resnet20", { features: {} });
 * const engine = await createFeatureEngine(model, "onnxruntime");
 * const maps = await engine.predict(tf.zeros([2, 32, 32, 3]));
 * console.log(engine.name, maps.map((m) => m.shape)); // onnxruntime [ [ 2, 32, 32, 16 ], [ 2, 16, 16, 32 ], [ 2, 8, 8, 64 ] ]
 * await engine.dispose();
 * ```
 */
export async function createFeatureEngine(
  model: FeatureModel,
  choice: EngineChoice = "auto",
  ortOptions: OrtSessionOptions = {},
): Promise<FeatureEngine> {
  if (await resolveEngine(choice) === "tfjs") {
    if (model.dataFormat === "channels_first") {
      throw new RangeError("a feature engine runs a channels_last model");
    }
    return {
      name: tfjsEngineName(),
      predict: (x) => Promise.resolve(model.predict(x)),
      dispose: () => Promise.resolve(),
    };
  }
  const onnx = await exportOnnx(model.plan, model.weights, { layout: "nchw" });
  const session = await createOrtSession(onnx, { ...ortOptions, multipleOutputs: true });
  return {
    name: "onnxruntime",
    async predict(x) {
      const nchw = tf.transpose(x, [0, 3, 1, 2]);
      const data = (await nchw.data()) as Float32Array;
      const outputs = await session.runAll(data, nchw.shape);
      nchw.dispose();
      return outputs.map((out) =>
        tf.tidy(() => tf.transpose(tf.tensor(out.data, out.shape), [0, 2, 3, 1]))
      );
    },
    dispose: () => session.dispose(),
  };
}
