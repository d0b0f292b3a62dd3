/**
 * Training a ResNet's last stages, and which tfjs backends can. `layersModel.fit` needs the gradients of every layer;
 * tfjs-backend-wasm 4.22 has no `Conv2DBackpropFilter` kernel (the gradient of a convolution's
 * filter), so training there fails midway with "Kernel 'Conv2DBackpropFilter' not registered".
 * The cpu backend has every gradient, and so has WebGPU (also on Mesa's software adapter, where
 * it is slow). Checking the kernel registry up front turns that failure into a clear refusal.
 *
 * @example
 * ```ts
 * import { useBackend } from "./backend.ts";
 * import { trainingProblem } from "./training.ts";
 * await useBackend("wasm");
 * console.log(trainingProblem());
 * // backend 'wasm' cannot train a ResNet: it has no kernel 'Conv2DBackpropFilter' (the gradient of a convolution's filter); train on 'cpu', or 'webgpu' on a GPU
 * await useBackend("cpu");
 * console.log(trainingProblem()); // undefined
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import type { Tensor4D } from "./tensor.ts";
import type { Plan } from "../arch/plan.ts";
import { seededRandom } from "../arch/weights.ts";
import type { ZooModel } from "./model.ts";
import type { EpochStats } from "./head.ts";
import { useFastCpuFilterGradient } from "./cpu_gradients.ts";

/** The gradient kernels training a ResNet needs, with what each computes. */
const GRADIENT_KERNELS: Readonly<Record<string, string>> = {
  Conv2DBackpropFilter: "the gradient of a convolution's filter",
  Conv2DBackpropInput: "the gradient of a convolution's input",
  MaxPoolGrad: "the gradient of a max-pool",
};

/**
 * Why a backend cannot train a ResNet (the first gradient kernel it lacks), or `undefined`
 * when it can.
 *
 * @param backend A registered backend's name (default: the active one).
 *
 * @example
 * ```ts
 * import { useBackend } from "./backend.ts";
 * await useBackend("cpu");
 * console.log(trainingProblem("cpu")); // undefined
 * ```
 */
export function trainingProblem(backend: string = tf.getBackend()): string | undefined {
  for (const [kernel, what] of Object.entries(GRADIENT_KERNELS)) {
    if (!tf.getKernel(kernel, backend)) {
      return `backend '${backend}' cannot train a ResNet: it has no kernel '${kernel}' (${what}); ` +
        "train on 'cpu', or 'webgpu' on a GPU";
    }
  }
  return undefined;
}

/**
 * Labelled images to train on, produced batch by batch (so that only one batch of images is
 * in memory at a time).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import type { ImageBatches } from "./training.ts";
 * const data: ImageBatches = {
 *   labels: [0, 1],
 *   images: (rows) => Promise.resolve(tf.zeros([rows.length, 32, 32, 3]) as tf.Tensor4D),
 * };
 * console.log(data.labels.length); // 2
 * ```
 */
export interface ImageBatches {
  /** The class of each example. */
  labels: readonly number[];
  /** The preprocessed NHWC images of these examples, in this order. */
  images(rows: number[]): Promise<Tensor4D>;
}

/**
 * Options of {@link trainLastStages}.
 *
 * @example
 * ```ts
 * import type { StageTrainingOptions } from "./training.ts";
 * const options: StageTrainingOptions = { stages: 1, epochs: 2 };
 * console.log(options.learningRate); // undefined: 1e-4
 * ```
 */
export interface StageTrainingOptions {
  /** How many of the last stages train, with everything after them (the classifier). */
  stages: number;
  /** Passes over the training images (default 3). */
  epochs?: number;
  /** Images per step (default 32). */
  batch?: number;
  /** Adam's learning rate (default 1e-4: the pretrained layers move a little). */
  learningRate?: number;
  /** Seed of the batch order (default 0). */
  seed?: number;
  /** Images to report accuracy on after each epoch. */
  val?: ImageBatches;
  /** Called after each epoch. */
  onEpoch?: (stats: EpochStats) => void;
}

/** Names of the layers from the first block of stage `first` to the end of a plan. */
function layersFrom(plan: Plan, first: number): Set<string> {
  const start = plan.blocks.find((b) => b.stage === first)?.start ?? plan.nodes.length;
  return new Set(plan.nodes.slice(start).flatMap((node) => "name" in node ? [node.name] : []));
}

/**
 * Fine-tunes a classifier's last stages on images, everything before them frozen. BatchNorms
 * keep running in inference mode with their pretrained statistics (as Keras does for a frozen
 * BatchNorm), so small batches cannot disturb them; their scale and shift train in the
 * unfrozen stages. Needs a backend with the gradients of a convolution (see
 * {@link trainingProblem}); the model's `predict` follows the result.
 *
 * @throws {Error} On a backend that cannot train, naming the kernel it lacks.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { getSpec } from "../arch/presets.ts";
 * import { useBackend } from "./backend.ts";
 * import { createModel } from "./model.ts";
 * await useBackend("cpu");
 * const model = createModel({ ...getSpec("cifar_resnet20"), depths: [1, 1, 1] }, { classes: 2 });
 * const data = {
 *   labels: [0, 1],
 *   images: (rows: number[]) => Promise.resolve(tf.randomNormal([rows.length, 32, 32, 3], 0, 1, "float32", 1) as tf.Tensor4D),
 * };
 * const history = await trainLastStages(model, data, { stages: 1, epochs: 2 });
 * console.log(history.length); // 2
 * ```
 */
export async function trainLastStages(
  model: ZooModel,
  data: ImageBatches,
  options: StageTrainingOptions,
): Promise<EpochStats[]> {
  const problem = trainingProblem();
  if (problem) throw new Error(problem);
  useFastCpuFilterGradient();
  const stages = Math.max(...model.plan.blocks.map((b) => b.stage)) + 1;
  if (!Number.isInteger(options.stages) || options.stages < 1 || options.stages > stages) {
    throw new RangeError(`stages must be from 1 to ${stages}, got ${options.stages}`);
  }
  const head = model.plan.nodes[model.plan.output];
  if (head.op !== "dense") throw new RangeError("trainLastStages trains a model with a classifier");
  const classes = head.outFeatures;
  const layers = model.layersModel;
  const names = layersFrom(model.plan, stages - options.stages);
  const variables = layers.layers
    .filter((layer) => names.has(layer.name))
    .flatMap((layer) => layer.trainableWeights.map((w) => w.read() as tf.Variable));
  const optimizer = tf.train.adam(options.learningRate ?? 1e-4);
  const batch = options.batch ?? 32;
  const epochs = options.epochs ?? 3;
  const random = seededRandom(options.seed ?? 0);
  const logits = (x: Tensor4D) => layers.apply(x, { training: false }) as tf.Tensor2D;
  const history: EpochStats[] = [];
  try {
    for (let epoch = 1; epoch <= epochs; epoch++) {
      const order = data.labels.map((_, i) => i);
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [order[i], order[j]] = [order[j], order[i]];
      }
      let lossSum = 0;
      let hits = 0;
      for (let start = 0; start < order.length; start += batch) {
        const rows = order.slice(start, start + batch);
        const x = await data.images(rows);
        const y = tf.oneHot(tf.tensor1d(rows.map((r) => data.labels[r]), "int32"), classes);
        let right: tf.Scalar | undefined;
        const loss = optimizer.minimize(
          () => {
            const z = logits(x);
            right = tf.keep(tf.sum(tf.cast(tf.equal(tf.argMax(z, 1), tf.argMax(y, 1)), "int32")));
            return tf.losses.softmaxCrossEntropy(y, z);
          },
          true,
          variables,
        )!;
        lossSum += (await loss.data())[0] * rows.length;
        hits += (await right!.data())[0];
        tf.dispose([x, y, loss, right!]);
      }
      const stats: EpochStats = {
        epoch,
        epochs,
        trainLoss: lossSum / order.length,
        trainAccuracy: hits / order.length,
      };
      if (options.val && options.val.labels.length > 0) {
        let lossTotal = 0;
        let right = 0;
        const labels = options.val.labels;
        for (let start = 0; start < labels.length; start += batch) {
          const rows = labels.slice(start, start + batch).map((_, i) => start + i);
          const x = await options.val.images(rows);
          const [loss, hit] = tf.tidy(() => {
            const y = tf.oneHot(tf.tensor1d(rows.map((r) => labels[r]), "int32"), classes);
            const z = logits(x);
            return [
              tf.losses.softmaxCrossEntropy(y, z),
              tf.sum(tf.cast(tf.equal(tf.argMax(z, 1), tf.argMax(y, 1)), "int32")),
            ];
          });
          lossTotal += (await loss.data())[0] * rows.length;
          right += (await hit.data())[0];
          tf.dispose([x, loss, hit]);
        }
        stats.valLoss = lossTotal / labels.length;
        stats.valAccuracy = right / labels.length;
      }
      history.push(stats);
      options.onEpoch?.(stats);
    }
  } finally {
    optimizer.dispose();
  }
  model.syncFromLayersModel();
  return history;
}
