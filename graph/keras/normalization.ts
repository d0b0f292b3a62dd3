/**
 * Keras' `Normalization` layer with its statistics in the config, which tfjs-layers lacks: a small
 * tfjs layer, registered under Keras' class name when a Keras model is loaded.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { useBackend } from "../../runtime/backend.ts";
 * import { KerasNormalization } from "./normalization.ts";
 * await useBackend("cpu");
 * const layer = new KerasNormalization({ mean: 2, variance: 4 });
 * console.log((layer.apply(tf.tensor1d([0, 2, 4])) as tf.Tensor).arraySync()); // [ -1, 0, 1 ]
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import type { Tensor } from "../../runtime/tensor.ts";

/** The class name the Normalization layer is registered under, so that saved models reload. */
export const NORMALIZATION_CLASS = "Normalization";

/** Keras' `backend.epsilon()`, the floor of the standard deviation in Normalization. */
const KERAS_EPSILON = 1e-7;

/** The config of Keras' Normalization with its statistics given as values. */
interface NormalizationConfig {
  /** The kept axes (one statistic per position along them); null keeps none. */
  axis?: number | number[] | null;
  mean: number | number[];
  variance: number | number[];
  invert?: boolean;
}

/**
 * Keras' `Normalization` with mean and variance from its config: `(x − mean) / max(√variance, ε)`,
 * or `x · max(√variance, ε) + mean` when inverted. The statistics are reshaped to broadcast along
 * the kept axes, as Keras does.
 */
export class KerasNormalization extends tfl.layers.Layer {
  static className: string = NORMALIZATION_CLASS;
  private readonly keptAxes: number[];
  private readonly mean: number[];
  private readonly variance: number[];
  private readonly invert: boolean;

  constructor(args: NormalizationConfig & ConstructorParameters<typeof tfl.layers.Layer>[0]) {
    super(args);
    this.keptAxes = args.axis === null ? [] : [args.axis ?? -1].flat();
    this.mean = [args.mean].flat();
    this.variance = [args.variance].flat();
    this.invert = args.invert ?? false;
  }

  override call(inputs: Tensor | Tensor[]): Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      const kept = this.keptAxes.map((axis) => (axis < 0 ? axis + x.rank : axis));
      const shape = x.shape.map((dim, axis) => (kept.includes(axis) ? dim : 1));
      const statistic = (values: number[]): Tensor =>
        values.length === 1 ? tf.scalar(values[0]) : tf.tensor(values, shape);
      const mean = statistic(this.mean);
      const deviation = tf.maximum(tf.sqrt(statistic(this.variance)), KERAS_EPSILON);
      return this.invert ? tf.add(tf.mul(x, deviation), mean) : tf.div(tf.sub(x, mean), deviation);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      axis: this.keptAxes,
      mean: this.mean,
      variance: this.variance,
      invert: this.invert,
    };
  }
}
/**
 * Registers {@link KerasNormalization} with tfjs under {@link NORMALIZATION_CLASS}, so that
 * configs using it deserialise and saved models reload. Registering again changes nothing.
 */
export function registerKerasNormalization(): void {
  tf.serialization.registerClass(KerasNormalization);
}
