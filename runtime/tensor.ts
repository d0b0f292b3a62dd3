/**
 * The TensorFlow.js types in the zoo's public API, named here so that they are documented
 * with it. They are tfjs's own (`npm:@tensorflow/tfjs-core` and `-layers`, which the
 * `npm:@tensorflow/tfjs` bundle re-exports): make inputs with the same 4.22 release the zoo
 * imports, so that tensors live on the backend the models run on.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { useBackend } from "./backend.ts";
 * import type { Tensor4D } from "./tensor.ts";
 * await useBackend("cpu");
 * const batch: Tensor4D = tf.zeros([1, 224, 224, 3]);
 * console.log(batch.shape); // [ 1, 224, 224, 3 ]
 * ```
 *
 * @module
 */

import type * as tf from "@tensorflow/tfjs-core";
import type * as tfl from "@tensorflow/tfjs-layers";

/** A TensorFlow.js tensor of any rank. */
export type Tensor = tf.Tensor;

/** A 2-D tensor, e.g. a batch of logits `[batch, classes]`. */
export type Tensor2D = tf.Tensor2D;

/** A 4-D tensor: an image batch, NHWC (`[batch, height, width, channels]`) unless said otherwise. */
export type Tensor4D = tf.Tensor4D;

/** A trainable TensorFlow.js (Keras-style) model. */
export type LayersModel = tfl.LayersModel;
