/**
 * The convolutions ResNets need beyond tfjs' Conv2D: grouped (ResNeXt) and weight-standardised
 * (BiT). tfjs has no grouped convolution; it runs as a depthwise convolution with channel
 * multiplier `out / groups` followed by a sum over each group's inputs. That is the grouped
 * convolution's own arithmetic (no zero blocks, no per-group calls), in one kernel call plus a
 * reshape and a sum, on every backend. The folded inference path and the LayersModel's
 * {@link ZooConv2D} layer both compute it here.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { useBackend } from "./backend.ts";
 * import { depthwiseFilter, groupedConv2d } from "./conv.ts";
 * await useBackend("cpu");
 * // Two groups of one input and one output channel: each output is its own input doubled.
 * const kernel = tf.fill([1, 1, 1, 2], 2) as tf.Tensor4D;
 * const x = tf.tensor4d([1, 3], [1, 1, 1, 2]);
 * const y = groupedConv2d(x, depthwiseFilter(kernel, 2), 2, 1, 0);
 * console.log(Array.from(await y.data())); // [ 2, 6 ]
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import type { Tensor4D } from "./tensor.ts";

/**
 * A grouped convolution's HWIO kernel `[k, k, in/groups, out]` as a depthwise filter
 * `[k, k, in, out/groups]`: input channel `g·(in/groups) + i`, multiplier `j` holds the weight
 * from input `i` of group `g` to that group's output `j` (output channel `g·(out/groups) + j`, as
 * PyTorch and ONNX order them).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { useBackend } from "./backend.ts";
 * await useBackend("cpu");
 * console.log(depthwiseFilter(tf.zeros([3, 3, 4, 64]) as tf.Tensor4D, 32).shape); // [ 3, 3, 128, 2 ]
 * ```
 */
export function depthwiseFilter(hwio: Tensor4D, groups: number): Tensor4D {
  const [kh, kw, perGroup, out] = hwio.shape;
  return tf.tidy(() =>
    tf.reshape(
      tf.transpose(tf.reshape(hwio, [kh, kw, perGroup, groups, out / groups]), [0, 1, 3, 2, 4]),
      [kh, kw, groups * perGroup, out / groups],
    )
  );
}

/**
 * Symmetric zero padding for an NHWC convolution, as tfjs takes it.
 *
 * @example
 * ```ts
 * console.log(convPadding(0), convPadding(1)[1]); // valid [ 1, 1 ]
 * ```
 */
export function convPadding(
  pad: number,
): "valid" | [[0, 0], [number, number], [number, number], [0, 0]] {
  return pad === 0 ? "valid" : [[0, 0], [pad, pad], [pad, pad], [0, 0]];
}

/**
 * Grouped convolution of an NHWC batch with a {@link depthwiseFilter}, symmetric padding `pad`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { useBackend } from "./backend.ts";
 * await useBackend("cpu");
 * const filter = depthwiseFilter(tf.ones([3, 3, 2, 8]) as tf.Tensor4D, 4);
 * console.log(groupedConv2d(tf.ones([1, 8, 8, 8]), filter, 4, 2, 1).shape); // [ 1, 4, 4, 8 ]
 * ```
 */
export function groupedConv2d(
  x: Tensor4D,
  filter: Tensor4D,
  groups: number,
  stride: number,
  pad: number,
): Tensor4D {
  return tf.tidy(() => {
    const [, , inChannels, multiplier] = filter.shape;
    const y = tf.depthwiseConv2d(x, filter, stride, convPadding(pad));
    const [n, h, w] = y.shape;
    const perGroup = inChannels / groups;
    const summed = tf.sum(tf.reshape(y, [n, h, w, groups, perGroup, multiplier]), 4);
    return tf.reshape(summed, [n, h, w, groups * multiplier]);
  });
}

/**
 * A kernel standardised per output channel (its last axis): (w − mean) / sqrt(var + ε), the
 * variance biased, differentiably (the LayersModel trains through it).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { useBackend } from "./backend.ts";
 * await useBackend("cpu");
 * const k = standardizeKernel(tf.tensor4d([1, 3], [1, 1, 2, 1]), 1e-8);
 * console.log(Array.from(await k.data())); // [ -1, 1 ]
 * ```
 */
export function standardizeKernel(kernel: Tensor4D, epsilon: number): Tensor4D {
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(kernel, [0, 1, 2], true);
    return tf.mul(tf.sub(kernel, mean), tf.rsqrt(tf.add(variance, epsilon))) as Tensor4D;
  });
}

/** Options of {@link ZooConv2D}. */
export interface ZooConv2DArgs {
  /** Output channels. */
  filters: number;
  /** Square kernel size. */
  kernelSize: number;
  /** Stride in both directions. */
  strides: number;
  /** Symmetric zero padding. */
  pad: number;
  /** Channel groups; input and output channels must both divide by it. */
  groups: number;
  /** Weight standardisation ε; 0 for none. */
  standardize: number;
  /** Whether the layer adds a bias. */
  useBias: boolean;
  /** Layer name. */
  name?: string;
}

/**
 * A trainable convolution for LayersModels with what tfjs-layers' Conv2D lacks: `groups` and
 * weight standardisation. Its `kernel` is HWIO with `in / groups` input channels, as Keras'
 * grouped Conv2D and the zoo weight map store it; `call` standardises it when asked
 * ({@link standardizeKernel}) and runs {@link groupedConv2d} (or a plain conv for one group),
 * all of which gradients pass through.
 *
 * @example
 * ```ts
 * import * as tfl from "@tensorflow/tfjs-layers";
 * import { useBackend } from "./backend.ts";
 * await useBackend("cpu");
 * const layer = new ZooConv2D({ filters: 8, kernelSize: 3, strides: 1, pad: 1, groups: 4, standardize: 0, useBias: false });
 * const y = layer.apply(tfl.input({ shape: [16, 16, 8] })) as tfl.SymbolicTensor;
 * console.log(y.shape, layer.weights[0].shape); // [ null, 16, 16, 8 ] [ 3, 3, 2, 8 ]
 * ```
 */
export class ZooConv2D extends tfl.layers.Layer {
  /** Registered class name, used by tfjs serialisation. */
  static className = "ZooConv2D";
  private readonly args: ZooConv2DArgs;
  private kernel: tfl.LayerVariable | null = null;
  private bias: tfl.LayerVariable | null = null;

  /**
   * Creates the layer.
   *
   * @example
   * ```ts
   * const layer = new ZooConv2D({ filters: 64, kernelSize: 3, strides: 2, pad: 1, groups: 32, standardize: 0, useBias: false });
   * console.log(layer.getConfig().groups); // 32
   * ```
   */
  constructor(args: ZooConv2DArgs) {
    super({ name: args.name });
    this.args = args;
  }

  /** Creates the kernel (and bias) for the input's channel count. */
  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tfl.Shape;
    const { kernelSize: k, filters, groups } = this.args;
    const inChannels = shape[3] as number;
    this.kernel = this.addWeight(
      "kernel",
      [k, k, inChannels / groups, filters],
      "float32",
      tfl.initializers.glorotUniform({}),
    );
    if (this.args.useBias) {
      this.bias = this.addWeight("bias", [filters], "float32", tfl.initializers.zeros());
    }
    this.built = true;
  }

  /** Output shape: spatial size `(size + 2·pad − k) / stride + 1`, rounded down. */
  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tfl.Shape;
    const { kernelSize: k, strides, pad, filters } = this.args;
    const out = (n: number | null) =>
      n === null ? null : Math.floor((n + 2 * pad - k) / strides) + 1;
    return [shape[0], out(shape[1]), out(shape[2]), filters];
  }

  /** The grouped convolution of the input, plus the bias. */
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as Tensor4D;
      const { groups, strides, pad, standardize } = this.args;
      const stored = this.kernel!.read() as Tensor4D;
      const kernel = standardize ? standardizeKernel(stored, standardize) : stored;
      const y = groups === 1
        ? tf.conv2d(x, kernel, strides, convPadding(pad))
        : groupedConv2d(x, depthwiseFilter(kernel, groups), groups, strides, pad);
      return this.bias ? tf.add(y, this.bias.read()) : y;
    });
  }

  /** Serialised configuration. */
  override getConfig(): tf.serialization.ConfigDict {
    const { name: _name, ...args } = this.args;
    return { ...super.getConfig(), ...args };
  }
}
tf.serialization.registerClass(ZooConv2D);
