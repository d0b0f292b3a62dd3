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

/**
 * A TensorFlow.js tensor of any rank.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { useBackend } from "./backend.ts";
 * import type { Tensor } from "./tensor.ts";
 * await useBackend("cpu");
 * const t: Tensor = tf.ones([2, 3]);
 * console.log(t.rank, t.size); // 2 6
 * ```
 */
export type Tensor = tf.Tensor;

/**
 * A 2-D tensor, e.g. a batch of logits `[batch, classes]`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { useBackend } from "./backend.ts";
 * import type { Tensor2D } from "./tensor.ts";
 * await useBackend("cpu");
 * const logits: Tensor2D = tf.tensor2d([[0.1, 2.5, -1]]);
 * console.log(logits.shape); // [ 1, 3 ]
 * ```
 */
export type Tensor2D = tf.Tensor2D;

/**
 * A 4-D tensor: an image batch, NHWC (`[batch, height, width, channels]`) unless said otherwise.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { useBackend } from "./backend.ts";
 * import type { Tensor4D } from "./tensor.ts";
 * await useBackend("cpu");
 * const images: Tensor4D = tf.zeros([8, 32, 32, 3]);
 * console.log(images.shape); // [ 8, 32, 32, 3 ]
 * ```
 */
export type Tensor4D = tf.Tensor4D;

/**
 * A trainable TensorFlow.js (Keras-style) model.
 *
 * @example
 * ```ts
 * import { useBackend } from "./backend.ts";
 * import { createModel } from "./model.ts";
 * import type { LayersModel } from "./tensor.ts";
 * await useBackend("cpu");
 * const layers: LayersModel = createModel("cifar_resnet20").layersModel;
 * console.log(layers.name, layers.outputs[0].shape); // cifar_resnet20 [ null, 10 ]
 * ```
 */
export type LayersModel = tfl.LayersModel;
