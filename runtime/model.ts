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
import { defaultInputSize, type ResNetSpec } from "../arch/spec.ts";
import { getSpec } from "../arch/presets.ts";
import {
  countParams,
  type ParamCounts,
  type Plan,
  type PlanOptions,
  planResNet,
} from "../arch/plan.ts";
import { checkWeights, initialWeights, type WeightMap } from "../arch/weights.ts";
import { buildLayersModel, type DataFormat, getLayersWeights } from "./layers.ts";
import { compileInference, type InferenceGraph } from "./infer.ts";
import { BatchTooLargeError, inputMismatch, WASM_ACTIVATION_BUDGET } from "./input_check.ts";
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
  /** Trained weights in the zoo layout; default: fresh initial weights. */
  weights?: WeightMap;
  /** Seed of the initial weights when `weights` is not given. */
  seed?: number;
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
  /** The architecture. */
  readonly spec: ResNetSpec;
  /** The lowered graph, head options applied. */
  readonly plan: Plan;
  /** Input layout `predict` expects. */
  readonly dataFormat: DataFormat;
  /** Current weights (zoo layout). */
  readonly weights: WeightMap;
  /** Runs the folded inference graph: logits (or features without a top) for a float32 batch. */
  predict(x: Tensor4D): Tensor;
  /** The trainable Keras-named LayersModel, built on first access from {@link ZooModel.weights}. */
  readonly layersModel: LayersModel;
  /** Copies the LayersModel's weights (after `fit`) into {@link ZooModel.weights} and recompiles `predict`. */
  syncFromLayersModel(): void;
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
  if (batch * perImage <= WASM_ACTIVATION_BUDGET) return;
  const maxBatch = Math.max(1, Math.floor(WASM_ACTIVATION_BUDGET / perImage));
  throw new BatchTooLargeError(name, batch, height, width, batch * perImage, maxBatch);
}

/**
 * Creates a model from a preset name or a spec.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { useBackend } from "./backend.ts";
 * await useBackend("wasm");
 * const features = createModel("resnet18", { includeTop: false, pooling: "avg" });
 * console.log(features.predict(tf.zeros([1, 64, 64, 3])).shape); // [ 1, 512 ]
 * features.dispose();
 * ```
 */
export function createModel(
  architecture: string | ResNetSpec,
  options: ModelOptions = {},
): ZooModel {
  const spec = typeof architecture === "string" ? getSpec(architecture) : architecture;
  const plan = planResNet(spec, options);
  let weights = options.weights ?? initialWeights(plan, options.seed);
  checkWeights(plan, weights);
  const dataFormat = options.dataFormat ?? "channels_last";
  if (dataFormat !== "channels_last" && dataFormat !== "channels_first") {
    throw new RangeError(
      `dataFormat must be "channels_last" or "channels_first", got ${JSON.stringify(dataFormat)}`,
    );
  }
  const layout = dataFormat === "channels_first" ? "nchw" : "nhwc";
  const inputChannels = plan.nodes[0].op === "input" ? plan.nodes[0].channels : 3;
  const size = defaultInputSize(spec);
  if (options.inputShape?.some((n) => !Number.isInteger(n) || n < 32)) {
    // Five stride-2 stages need 32 pixels to leave a 1×1 map (Keras' min_size).
    throw new RangeError(`inputShape must be at least 32×32, got [${options.inputShape}]`);
  }
  let graph: InferenceGraph | null = null;
  let layersModel: LayersModel | null = null;
  return {
    spec,
    plan,
    dataFormat,
    get weights() {
      return weights;
    },
    predict(x: Tensor4D): Tensor {
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
      startBackendIfNone();
      layersModel ??= buildLayersModel(
        plan,
        { inputShape: options.inputShape ?? [size, size], dataFormat, name: spec.name },
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
    countParams: () => countParams(plan),
    dispose() {
      graph?.dispose();
      layersModel?.dispose();
      graph = null;
      layersModel = null;
    },
  };
}
