/**
 * Training a new classifier on frozen features (a linear probe): one dense layer, softmax
 * cross-entropy, Adam, mini-batches in a seeded order, and early stopping on a validation
 * split (the best epoch's weights are kept). The features are computed once beforehand, so
 * an epoch costs a few matrix products, on any tfjs backend (wasm included: a dense layer's
 * gradients are matrix products).
 *
 * @example
 * ```ts
 * import { useBackend } from "./backend.ts";
 * import { trainHead } from "./head.ts";
 * await useBackend("wasm");
 * // Two classes told apart by the sign of the first feature.
 * const x = new Float32Array([1, 0, 2, 1, -1, 0, -2, 1]);
 * const head = await trainHead({ x, labels: [0, 0, 1, 1] }, undefined, { dimensions: 2, classes: 2, epochs: 50 });
 * console.log(head.history.at(-1)?.trainAccuracy); // 1
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
// tfjs-core's Node build registers no gradients; tfjs-layers' build registers all of them.
import "@tensorflow/tfjs-layers";
import { seededRandom } from "../arch/weights.ts";

/**
 * Labelled feature vectors: `x` is `[labels.length, dimensions]`, row-major.
 *
 * @example
 * ```ts
 * import type { LabelledFeatures } from "./head.ts";
 * const data: LabelledFeatures = { x: new Float32Array([0.5, 1.5]), labels: [1] };
 * console.log(data.labels.length); // 1
 * ```
 */
export interface LabelledFeatures {
  /** The features, one row per example. */
  x: Float32Array;
  /** The class of each row. */
  labels: readonly number[];
}

/**
 * One epoch's numbers: mean loss and accuracy (0 to 1) on the training rows (in training
 * mode, averaged over the epoch's batches) and on the validation rows.
 *
 * @example
 * ```ts
 * import type { EpochStats } from "./head.ts";
 * const stats: EpochStats = { epoch: 1, epochs: 30, trainLoss: 0.4, trainAccuracy: 0.9 };
 * console.log(stats.valAccuracy); // undefined without a validation split
 * ```
 */
export interface EpochStats {
  /** 1-based. */
  epoch: number;
  /** The most epochs the run may take. */
  epochs: number;
  /** Mean softmax cross-entropy over the epoch's batches. */
  trainLoss: number;
  /** Fraction of training rows classified right during the epoch. */
  trainAccuracy: number;
  /** Cross-entropy on the validation rows after the epoch. */
  valLoss?: number;
  /** Fraction of validation rows classified right after the epoch. */
  valAccuracy?: number;
}

/**
 * Options of {@link trainHead}.
 *
 * @example
 * ```ts
 * import type { TrainHeadOptions } from "./head.ts";
 * const options: TrainHeadOptions = { dimensions: 64, classes: 2, epochs: 30, patience: 5, seed: 1 };
 * console.log(options.learningRate); // undefined: 0.01
 * ```
 */
export interface TrainHeadOptions {
  /** Features per row. */
  dimensions: number;
  /** Classes of the new classifier. */
  classes: number;
  /** The most epochs (default 30). */
  epochs?: number;
  /** Rows per step (default 32). */
  batch?: number;
  /** Adam's learning rate (default 0.01). */
  learningRate?: number;
  /** Epochs without a better validation loss before stopping (default 5). */
  patience?: number;
  /** Seed of the batch order (default 0). */
  seed?: number;
  /** Starting weights (default zeros): kernel `[dimensions, classes]` and bias `[classes]`. */
  initial?: { kernel: Float32Array; bias: Float32Array };
  /** Called after each epoch. */
  onEpoch?: (stats: EpochStats) => void;
}

/**
 * A trained classifier.
 *
 * @example
 * ```ts
 * import { useBackend } from "./backend.ts";
 * import { type TrainedHead, trainHead } from "./head.ts";
 * await useBackend("cpu");
 * const head: TrainedHead = await trainHead({ x: new Float32Array([1, -1]), labels: [0, 1] }, undefined, { dimensions: 1, classes: 2, epochs: 3 });
 * console.log(head.kernel.length, head.bias.length, head.bestEpoch); // 2 2 3
 * ```
 */
export interface TrainedHead {
  /** `[dimensions, classes]`, row-major (the zoo's dense layout). */
  kernel: Float32Array;
  /** `[classes]`. */
  bias: Float32Array;
  /** The epoch whose weights these are: the best validation loss, else the last epoch. */
  bestEpoch: number;
  /** Every epoch run, in order. */
  history: EpochStats[];
}

/** A seeded permutation of 0…n-1 (Fisher–Yates). */
function shuffled(n: number, random: () => number): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

/**
 * Trains a dense classifier on features. With `val`, each epoch ends with the validation loss;
 * the run stops after `patience` epochs without improvement and returns the best epoch's
 * weights.
 *
 * @throws {RangeError} When `x` does not hold `labels.length × dimensions` values or a label is
 *   not a class.
 *
 * @example
 * ```ts
 * import { useBackend } from "./backend.ts";
 * await useBackend("cpu");
 * const train = { x: new Float32Array([3, 0, 0, 3]), labels: [0, 1] };
 * const head = await trainHead(train, train, { dimensions: 2, classes: 2, epochs: 20 });
 * console.log(head.history.at(-1)?.valAccuracy); // 1
 * ```
 */
export async function trainHead(
  train: LabelledFeatures,
  val: LabelledFeatures | undefined,
  options: TrainHeadOptions,
): Promise<TrainedHead> {
  const { dimensions, classes } = options;
  for (const [name, data] of [["train", train], ["val", val]] as const) {
    if (!data) continue;
    if (data.x.length !== data.labels.length * dimensions) {
      throw new RangeError(
        `${name}: ${data.x.length} values for ${data.labels.length} rows of ${dimensions}`,
      );
    }
    if (data.labels.some((label) => !Number.isInteger(label) || label < 0 || label >= classes)) {
      throw new RangeError(`${name}: labels must be classes 0 to ${classes - 1}`);
    }
  }
  const epochs = options.epochs ?? 30;
  const batch = options.batch ?? 32;
  const patience = options.patience ?? 5;
  const random = seededRandom(options.seed ?? 0);
  const kernel = tf.variable(
    options.initial
      ? tf.tensor2d(options.initial.kernel, [dimensions, classes])
      : tf.zeros([dimensions, classes]),
  );
  const bias = tf.variable(
    options.initial ? tf.tensor1d(options.initial.bias) : tf.zeros([classes]),
  );
  const optimizer = tf.train.adam(options.learningRate ?? 0.01);
  const asTensors = (data: LabelledFeatures) => ({
    x: tf.tensor2d(data.x, [data.labels.length, dimensions]),
    y: tf.oneHot(tf.tensor1d(data.labels as number[], "int32"), classes),
  });
  const trainSet = asTensors(train);
  const valSet = val && val.labels.length > 0 ? asTensors(val) : undefined;
  const logits = (x: tf.Tensor) => tf.add(tf.matMul(x, kernel), bias);
  const correct = (y: tf.Tensor, z: tf.Tensor) =>
    tf.sum(tf.cast(tf.equal(tf.argMax(y, 1), tf.argMax(z, 1)), "float32"));

  const history: EpochStats[] = [];
  let best = { loss: Infinity, epoch: 0, kernel: kernel.clone(), bias: bias.clone() };
  try {
    for (let epoch = 1; epoch <= epochs; epoch++) {
      const order = shuffled(train.labels.length, random);
      let lossSum = 0;
      let hits = 0;
      for (let start = 0; start < order.length; start += batch) {
        const rows = tf.tensor1d(order.slice(start, start + batch), "int32");
        const x = tf.gather(trainSet.x, rows);
        const y = tf.gather(trainSet.y, rows);
        let right: tf.Scalar | undefined;
        const loss = optimizer.minimize(() => {
          const z = logits(x);
          right = tf.keep(correct(y, z) as tf.Scalar);
          return tf.losses.softmaxCrossEntropy(y, z);
        }, true)!;
        lossSum += (await loss.data())[0] * rows.shape[0];
        hits += (await right!.data())[0];
        tf.dispose([rows, x, y, loss, right!]);
      }
      const stats: EpochStats = {
        epoch,
        epochs,
        trainLoss: lossSum / order.length,
        trainAccuracy: hits / order.length,
      };
      if (valSet) {
        const [loss, right] = tf.tidy(() => {
          const z = logits(valSet.x);
          return [tf.losses.softmaxCrossEntropy(valSet.y, z), correct(valSet.y, z)];
        });
        stats.valLoss = (await loss.data())[0];
        stats.valAccuracy = (await right.data())[0] / valSet.y.shape[0];
        tf.dispose([loss, right]);
      }
      history.push(stats);
      options.onEpoch?.(stats);
      const score = stats.valLoss ?? -epoch; // without validation, the latest epoch is the best
      if (score < best.loss) {
        tf.dispose([best.kernel, best.bias]);
        best = { loss: score, epoch, kernel: kernel.clone(), bias: bias.clone() };
      } else if (valSet && epoch - best.epoch >= patience) {
        break;
      }
    }
    return {
      kernel: (await best.kernel.data()) as Float32Array,
      bias: (await best.bias.data()) as Float32Array,
      bestEpoch: best.epoch,
      history,
    };
  } finally {
    tf.dispose([kernel, bias, best.kernel, best.bias, trainSet.x, trainSet.y]);
    if (valSet) tf.dispose([valSet.x, valSet.y]);
    optimizer.dispose();
  }
}
