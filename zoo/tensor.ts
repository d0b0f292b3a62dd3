/**
 * The TensorFlow.js types in the zoo's public API, named here so that they are documented
 * with it. They are tfjs's own: make inputs with the same `npm:@tensorflow/tfjs` the zoo
 * imports, so that tensors live on the backend the models run on.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import type { Tensor4D } from "./tensor.ts";
 * const batch: Tensor4D = tf.zeros([1, 224, 224, 3]);
 * ```
 *
 * @module
 */

import type * as tf from "@tensorflow/tfjs";

/** A TensorFlow.js tensor of any rank. */
export type Tensor = tf.Tensor;

/** A 2-D tensor, e.g. a batch of logits `[batch, classes]`. */
export type Tensor2D = tf.Tensor2D;

/** A 4-D tensor: an image batch, NHWC (`[batch, height, width, channels]`) unless said otherwise. */
export type Tensor4D = tf.Tensor4D;

/** A trainable TensorFlow.js (Keras-style) model. */
export type LayersModel = tf.LayersModel;
