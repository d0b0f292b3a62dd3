/**
 * GroupNorm (Wu & He 2018) on tfjs, which has none: each image's channels in groups, each group
 * normalised over its channels and every pixel, then a per-channel scale and shift. BiT's
 * ResNet-V2 norms with 32 groups. The folded inference path computes it with
 * {@link groupNorm}; LayersModels use the trainable {@link GroupNormalization} layer.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { useBackend } from "./backend.ts";
 * import { groupNorm } from "./group_norm.ts";
 * await useBackend("cpu");
 * // One group of two channels: normalised together.
 * const y = groupNorm(tf.tensor4d([1, 3], [1, 1, 1, 2]), tf.ones([2]), tf.zeros([2]), 1, 0);
 * console.log(Array.from(await y.data())); // [ -1, 1 ]
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import type { Tensor, Tensor4D } from "./tensor.ts";

/**
 * GroupNorm of an NHWC batch: channels `[g·C/G, (g+1)·C/G)` form group g; each group's mean and
 * biased variance are taken over its channels and all pixels of the image.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { useBackend } from "./backend.ts";
 * await useBackend("cpu");
 * const x = tf.randomNormal([2, 4, 4, 64]) as tf.Tensor4D;
 * console.log(groupNorm(x, tf.ones([64]), tf.zeros([64]), 32, 1e-5).shape); // [ 2, 4, 4, 64 ]
 * ```
 */
export function groupNorm(
  x: Tensor4D,
  gamma: Tensor,
  beta: Tensor,
  groups: number,
  epsilon: number,
): Tensor4D {
  return tf.tidy(() => {
    const [n, h, w, c] = x.shape;
    const grouped = tf.reshape(x, [n, h, w, groups, c / groups]);
    const { mean, variance } = tf.moments(grouped, [1, 2, 4], true);
    const normalised = tf.mul(tf.sub(grouped, mean), tf.rsqrt(tf.add(variance, epsilon)));
    return tf.add(tf.mul(tf.reshape(normalised, [n, h, w, c]), gamma), beta) as Tensor4D;
  });
}

/** Options of {@link GroupNormalization}. */
export interface GroupNormalizationArgs {
  /** Groups the channels fall into. */
  groups: number;
  /** Variance epsilon. */
  epsilon: number;
  /** Layer name. */
  name?: string;
}

/**
 * A trainable GroupNorm layer for LayersModels, with weights `gamma` and `beta` (as the zoo
 * weight map names them); `call` runs {@link groupNorm}.
 *
 * @example
 * ```ts
 * import * as tfl from "@tensorflow/tfjs-layers";
 * import { useBackend } from "./backend.ts";
 * await useBackend("cpu");
 * const layer = new GroupNormalization({ groups: 32, epsilon: 1e-5 });
 * layer.apply(tfl.input({ shape: [8, 8, 64] }));
 * console.log(layer.weights.map((w) => w.shape)); // [ [ 64 ], [ 64 ] ]
 * ```
 */
export class GroupNormalization extends tfl.layers.Layer {
  /** Registered class name, used by tfjs serialisation. */
  static className = "GroupNormalization";
  private readonly args: GroupNormalizationArgs;
  private gamma: tfl.LayerVariable | null = null;
  private beta: tfl.LayerVariable | null = null;

  /**
   * Creates the layer.
   *
   * @example
   * ```ts
   * console.log(new GroupNormalization({ groups: 32, epsilon: 1e-5 }).getConfig().groups); // 32
   * ```
   */
  constructor(args: GroupNormalizationArgs) {
    super({ name: args.name });
    this.args = args;
  }

  /** Creates gamma (ones) and beta (zeros) for the input's channels. */
  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tfl.Shape;
    const channels = shape[3] as number;
    this.gamma = this.addWeight("gamma", [channels], "float32", tfl.initializers.ones());
    this.beta = this.addWeight("beta", [channels], "float32", tfl.initializers.zeros());
    this.built = true;
  }

  /** GroupNorm of the input. */
  override call(inputs: Tensor | Tensor[]): Tensor {
    const x = (Array.isArray(inputs) ? inputs[0] : inputs) as Tensor4D;
    return groupNorm(x, this.gamma!.read(), this.beta!.read(), this.args.groups, this.args.epsilon);
  }

  /** Serialised configuration. */
  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), groups: this.args.groups, epsilon: this.args.epsilon };
  }
}
tf.serialization.registerClass(GroupNormalization);
