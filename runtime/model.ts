/**
 * `createModel`: the one entry point from an architecture (preset name or spec) and
 * optional weights to a runnable model.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { useBackend } from "./backend.ts";
 * import { createModel } from "./model.ts";
 * await useBackend("wasm");
 * const model = createModel("cifar_resnet20");
 * const logits = model.predict(tf.zeros([1, 32, 32, 3]));
 * console.log(logits.shape); // [ 1, 10 ]
 * model.dispose();
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import type { LayersModel, Tensor, Tensor4D } from "./tensor.ts";
import { checkInputShape, defaultInputSize, type ResNetSpec } from "../arch/spec.ts";
import { getSpec } from "../arch/presets.ts";
import {
  countParams,
  type GlobalPoolNode,
  type ParamCounts,
  type Plan,
  type PlanOptions,
  planResNet,
} from "../arch/plan.ts";
import { fitWeights, initialWeights, type WeightMap } from "../arch/weights.ts";
import type { PreprocessSpec } from "../arch/preprocess.ts";
import { type DataFormat, getLayersWeights } from "./layers.ts";
import { compileInference, type InferenceGraph } from "./infer.ts";
import { createFeatureModel, type FeatureModel, type FeatureModelOptions } from "./features.ts";
import { trainableLayersModel } from "./trainable.ts";
import { checkActivationBudget, inputMismatch } from "./input_check.ts";
import { startBackendIfNone } from "./backend.ts";

/**
 * Options of {@link createModel}.
 *
 * @example
 * ```ts
 * import type { ModelOptions } from "./model.ts";
 * import { createModel } from "./model.ts";
 * const options: ModelOptions = { includeTop: false, pooling: "avg", seed: 7 };
 * console.log(createModel("resnet50", options).plan.nodes.at(-1)?.op); // globalPool
 * ```
 */
export interface ModelOptions extends PlanOptions {
  /** Input layout of `predict` and the LayersModel (default `channels_last`). */
  dataFormat?: DataFormat;
  /** Spatial input size of the LayersModel (`predict` takes any size ≥ 32); default 224 (ImageNet) or 32 (CIFAR). */
  inputShape?: [number, number];
  /**
   * Trained weights in the zoo layout; default: fresh initial weights. Weights with a
   * classifier fit a model without one (`includeTop: false`); with `classes`, a classifier of
   * another size is replaced by a fresh one (see `fitWeights`).
   */
  weights?: WeightMap;
  /** Seed of the initial weights (of the new classifier, with `weights` and `classes`). */
  seed?: number;
  /** Class names by output index, carried with the model (one per class). */
  labels?: readonly string[];
  /** The preprocessing the weights expect, carried with the model. */
  preprocess?: PreprocessSpec;
}

/**
 * A ResNet ready to run: a BN-folded inference path plus, on demand, a trainable LayersModel.
 *
 * @example
 * ```ts
 * import { createModel, type ZooModel } from "./model.ts";
 * const model: ZooModel = createModel("resnet18");
 * console.log(model.spec.name, model.countParams().trainable); // resnet18 11689512
 * ```
 */
export interface ZooModel {
  /** The architecture; `classes` is the classifier's. */
  readonly spec: ResNetSpec;
  /** The lowered graph, head options applied. */
  readonly plan: Plan;
  /** Input layout `predict` expects. */
  readonly dataFormat: DataFormat;
  /** Current weights (zoo layout). */
  readonly weights: WeightMap;
  /** Class names by output index, where known. */
  readonly labels?: readonly string[];
  /** The preprocessing the weights expect, where known. */
  readonly preprocess?: PreprocessSpec;
  /** Runs the folded inference graph: logits (or features without a top) for a float32 batch. */
  predict(x: Tensor4D): Tensor;
  /**
   * The trainable Keras-named LayersModel, built on first access from {@link ZooModel.weights}.
   * Its `save("file://…")` works in Deno (see `registerFileRouters`). Its `fit` runs on the
   * cpu backend (with a faster filter gradient, see `useFastCpuFilterGradient`) and on
   * WebGPU, not on wasm, which lacks a convolution's filter gradient (see `trainingProblem`).
   */
  readonly layersModel: LayersModel;
  /** Copies the LayersModel's weights (after `fit`) into {@link ZooModel.weights} and recompiles `predict`. */
  syncFromLayersModel(): void;
  /**
   * Replaces the classifier with a fresh one of `classes` outputs (seeded), keeping the
   * backbone (timm's `reset_classifier`); 0 removes it, leaving pooled features. The
   * LayersModel built before is disposed; the next access builds the new one.
   */
  resetClassifier(classes: number, options?: { seed?: number; labels?: readonly string[] }): void;
  /** Parameter counts. */
  countParams(): ParamCounts;
  /** Frees every tensor the model holds. */
  dispose(): void;
}

/** Refuses a batch whose activations would not fit in the wasm heap, naming a batch that does. */
function checkWasmBatch(
  name: string,
  graph: InferenceGraph,
  shape: readonly number[],
  layout: "nhwc" | "nchw",
): void {
  const [batch, height, width] = layout === "nhwc" ? shape : [shape[0], shape[2], shape[3]];
  const perImage = graph.peakBytesPerImage(height, width);
  checkActivationBudget(name, batch, `images of ${height}×${width}`, perImage);
}

function checkLabels(labels: readonly string[] | undefined, plan: Plan): void {
  const head = plan.nodes[plan.output];
  if (labels && head.op === "dense" && labels.length !== head.outFeatures) {
    throw new RangeError(`labels: ${labels.length} names for ${head.outFeatures} classes`);
  }
}

/**
 * Creates a model from a preset name or a spec; with `features`, a backbone that returns
 * feature maps (see {@link FeatureModel}).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { useBackend } from "./backend.ts";
 * await useBackend("wasm");
 * const features = createModel("resnet18", { includeTop: false, pooling: "avg" });
 * console.log(features.predict(tf.zeros([1, 64, 64, 3])).shape); // [ 1, 512 ]
 * features.dispose();
 * const backbone = createModel("resnet18", { features: { outIndices: [2, 4] } });
 * console.log(backbone.predict(tf.zeros([1, 64, 64, 3])).map((t) => t.shape)); // [ [ 1, 8, 8, 128 ], [ 1, 2, 2, 512 ] ]
 * backbone.dispose();
 * ```
 */
export function createModel(
  architecture: string | ResNetSpec,
  options: FeatureModelOptions,
): FeatureModel;
/** Creates a model (see the first overload): a classifier or a backbone without `features`. */
export function createModel(architecture: string | ResNetSpec, options?: ModelOptions): ZooModel;
export function createModel(
  architecture: string | ResNetSpec,
  options: ModelOptions | FeatureModelOptions = {},
): ZooModel | FeatureModel {
  if ("features" in options && options.features) return createFeatureModel(architecture, options);
  const modelOptions = options as ModelOptions;
  const given = typeof architecture === "string" ? getSpec(architecture) : architecture;
  const includeTop = modelOptions.includeTop ?? true;
  let spec = includeTop && modelOptions.classes !== undefined
    ? { ...given, classes: modelOptions.classes }
    : given;
  let plan = planResNet(given, modelOptions);
  let weights = modelOptions.weights
    ? fitWeights(given, plan, modelOptions.weights, {
      newHead: modelOptions.classes !== undefined,
      seed: modelOptions.seed,
    })
    : initialWeights(plan, modelOptions.seed);
  let labels = modelOptions.labels;
  checkLabels(labels, plan);
  const dataFormat = modelOptions.dataFormat ?? "channels_last";
  if (dataFormat !== "channels_last" && dataFormat !== "channels_first") {
    throw new RangeError(
      `dataFormat must be "channels_last" or "channels_first", got ${JSON.stringify(dataFormat)}`,
    );
  }
  const layout = dataFormat === "channels_first" ? "nchw" : "nhwc";
  const size = defaultInputSize(spec);
  checkInputShape(modelOptions.inputShape);
  let graph: InferenceGraph | null = null;
  let layersModel: LayersModel | null = null;
  return {
    get spec() {
      return spec;
    },
    get plan() {
      return plan;
    },
    dataFormat,
    get weights() {
      return weights;
    },
    get labels() {
      return labels;
    },
    preprocess: modelOptions.preprocess,
    predict(x: Tensor4D): Tensor {
      const inputChannels = plan.nodes[0].op === "input" ? plan.nodes[0].channels : 3;
      const mismatch = inputMismatch(
        x.shape,
        layout,
        inputChannels,
        (other) =>
          `create the model with dataFormat: "${
            other === "nchw" ? "channels_first" : "channels_last"
          }"`,
      );
      if (mismatch) throw new RangeError(`${spec.name}.predict: ${mismatch}`);
      startBackendIfNone();
      graph ??= compileInference(plan, weights);
      if (tf.getBackend() === "wasm") checkWasmBatch(spec.name, graph, x.shape, layout);
      if (dataFormat === "channels_first") {
        return tf.tidy(() => graph!.run(tf.transpose(x, [0, 2, 3, 1])));
      }
      return graph.run(x);
    },
    get layersModel() {
      layersModel ??= trainableLayersModel(
        plan,
        { inputShape: modelOptions.inputShape ?? [size, size], dataFormat, name: spec.name },
        weights,
      );
      return layersModel;
    },
    syncFromLayersModel() {
      if (!layersModel) return;
      weights = getLayersWeights(layersModel);
      graph?.dispose();
      graph = null;
    },
    resetClassifier(classes, reset = {}) {
      if (!Number.isInteger(classes) || classes < 0) {
        throw new RangeError(`classes must be a whole number of at least 0, got ${classes}`);
      }
      // The head's pool, not an attention module's squeeze.
      const headPool = plan.nodes.find((n): n is GlobalPoolNode =>
        n.op === "globalPool" && !n.keepDims
      );
      const pooling = headPool?.kind ?? "avg";
      const newPlan = classes === 0
        ? planResNet(given, { includeTop: false, pooling })
        : planResNet(given, { classes });
      checkLabels(reset.labels, newPlan);
      const head = `${given.naming.dense}/`;
      const backbone = new Map([...weights].filter(([name]) => !name.startsWith(head)));
      weights = fitWeights(given, newPlan, backbone, { newHead: true, seed: reset.seed });
      plan = newPlan;
      spec = classes === 0 ? given : { ...given, classes };
      labels = reset.labels;
      graph?.dispose();
      layersModel?.dispose();
      graph = null;
      layersModel = null;
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
