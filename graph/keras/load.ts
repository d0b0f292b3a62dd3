/**
 * Runs whole Keras models, not only the zoo's ResNets: a Keras 2 full-model HDF5 (`model.save("x.h5")`),
 * a Keras 3 `.keras` zip or a tfjs layers `model.json` becomes a `LayersModel` with the file's
 * trained weights.
 *
 * The file is read with `readKeras` (`formats/keras/`); its model config is rewritten into the
 * Keras 2 form that tfjs-layers deserialises (`model_config.ts`, `layer_config.ts`), and each
 * layer's weights are then set by layer name (`weights.ts`). The rewrite:
 *
 * - turns Keras 3 configs (`module`, `registered_name`, `build_config`, `batch_shape`,
 *   `{args, kwargs}` inbound nodes of `__keras_tensor__`s, dtype policy objects) into Keras 2 ones;
 * - drops initializers, regularizers and constraints, which only matter for training (optimizer
 *   state and training config are ignored too);
 * - maps layers tfjs lacks onto exact equivalents (`ReLU` with a negative slope → `LeakyReLU`,
 *   `SpatialDropout2D` → `Dropout`, `Identity` → linear `Activation`, activation `silu` → `swish`)
 *   and `Normalization` onto a small registered layer (`normalization.ts`);
 * - rejects, naming the layer and its class, every layer or setting tfjs would silently compute
 *   differently (grouped convolutions, `keepdims` pooling, `ReLU` thresholds, quantized layers, …).
 *
 * Paddings are passed through unchanged: tfjs implements TF's 'same' padding, which pads a
 * stride-2 convolution on an even input at the bottom/right only, so a faithful config is exact.
 *
 * `saveLayersModel` (`save.ts`) writes a model back out in the tfjs layers format.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { useBackend } from "../../runtime/backend.ts";
 * import { loadKerasModel } from "./load.ts";
 * await useBackend("cpu");
 * const file = "testdata/keras-mlperf-tiny/resnet8_cifar10.h5";
 * const model = await loadKerasModel(await Deno.readFile(file), file);
 * const logits = model.predict(tf.zeros([1, 32, 32, 3])) as tf.Tensor;
 * console.log(logits.shape); // [ 1, 10 ]
 * model.dispose();
 * ```
 *
 * @module
 */

import * as tfl from "@tensorflow/tfjs-layers";
import { messageOf, ZooFormatError } from "../../arch/errors.ts";
import type { LayersModel } from "../../runtime/tensor.ts";
import { readKeras } from "../../formats/keras/read.ts";
import { convertModel } from "./model_config.ts";
import { registerKerasNormalization } from "./normalization.ts";
import { setWeights } from "./weights.ts";

/** Options of {@link loadKerasModel}. */
export interface LoadKerasModelOptions {
  /**
   * For a tfjs `model.json`: the bytes of each weight shard, keyed by its path as written in the
   * file's `weightsManifest[].paths`.
   *
   * @example
   * ```ts
   * import { readShards } from "../../formats/keras/tfjs.ts";
   * import type { LoadKerasModelOptions } from "./load.ts";
   * const path = "testdata/fixtures/keras_reader/tfjs/model.json";
   * const options: LoadKerasModelOptions = { shards: readShards(await Deno.readFile(path), path) };
   * console.log(options.shards?.size); // 2
   * ```
   */
  shards?: Map<string, Uint8Array>;
}

/**
 * Builds a `LayersModel` with trained weights from a Keras 2 full-model HDF5 file, a Keras 3
 * `.keras` zip or a tfjs layers `model.json` (whose shards go in `options.shards`).
 *
 * @param bytes The file's contents.
 * @param file The file's name, used in error messages.
 * @param options The shards of a tfjs model.
 * @returns The model, ready for `predict`; the caller disposes it.
 * @throws {ZooFormatError} When the file has no model config (a weights-only file), a layer or one
 *   of its settings is not supported (the message names the layer and its class), or a layer's
 *   weights do not match what its config builds (the message names the layer and tensor).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { useBackend } from "../../runtime/backend.ts";
 * await useBackend("cpu");
 * const file = "testdata/fixtures/keras_models/keras3_block.keras";
 * const model = await loadKerasModel(await Deno.readFile(file), file);
 * console.log(model.inputs[0].shape, model.outputs[0].shape); // [ null, 12, 12, 3 ] [ null, 5 ]
 * model.dispose();
 * ```
 */
export async function loadKerasModel(
  bytes: Uint8Array,
  file: string,
  options: LoadKerasModelOptions = {},
): Promise<LayersModel> {
  const keras = await readKeras(bytes, file, options);
  if (!keras.modelConfig) {
    throw new ZooFormatError(
      file,
      `a ${keras.format} file holds weights only, no model config; build the architecture ` +
        "in code and load the weights into it",
    );
  }
  const topology = convertModel(keras.modelConfig, file);
  let model: LayersModel;
  registerKerasNormalization();
  try {
    // The converted config is plain JSON, which tfjs types as its own PyJson.
    const json = { modelTopology: topology } as Parameters<typeof tfl.models.modelFromJSON>[0];
    model = await tfl.models.modelFromJSON(json);
  } catch (error) {
    throw new ZooFormatError(file, `tfjs cannot build the model config: ${messageOf(error)}`);
  }
  try {
    setWeights(model, keras.layers, file);
  } catch (error) {
    model.dispose();
    throw error;
  }
  return model;
}
