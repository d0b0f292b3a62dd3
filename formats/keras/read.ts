/**
 * Reader for Keras weight and model files. It turns four layouts into one list of layers that own
 * weights, in model order, each with its tensors in the layer's own order and Keras layout
 * (Conv2D kernel HWIO, Dense kernel [in, out], BatchNormalization gamma, beta, moving_mean,
 * moving_variance):
 *
 * - Keras 2 HDF5 weights (`save_weights`, e.g. keras.applications `*_tf_kernels.h5`),
 * - Keras 2 full-model HDF5 (`model.save("x.h5")`, with `model_config` and `model_weights`),
 * - Keras 3 `.keras` zips and bare Keras 3 `.weights.h5` files,
 * - TensorFlow.js layers models (`model.json` plus binary weight shards).
 *
 * HDF5 is read with h5wasm, which is started on the first HDF5 read (see `./hdf5.ts`).
 *
 * @example
 * ```ts
 * import { readKeras } from "./read.ts";
 * const file = "testdata/keras-mlperf-tiny/resnet8_cifar10.h5";
 * const model = await readKeras(await Deno.readFile(file), file);
 * console.log(model.format, model.layers[0].name, model.layers.length); // h5-model conv2d 17
 * ```
 *
 * @module
 */

import { HDF5_SIGNATURE, startsWithSignature, ZIP_SIGNATURE } from "../detect.ts";
import { ZooFormatError } from "../../arch/errors.ts";
import { readHdf5 } from "./h5.ts";
import { readKerasZip } from "./keras3.ts";
import { readTfjsLayers } from "./tfjs.ts";
import type { KerasFile, ReadKerasOptions } from "./types.ts";

/**
 * Reads the layers and weights of a Keras file: an HDF5 weights or model file, a Keras 3 `.keras`
 * zip or `.weights.h5`, or a tfjs layers `model.json` (whose shards go in `options.shards`).
 * The layout is recognised from the bytes, not from the file name.
 *
 * @param bytes The file's contents.
 * @param file The file's name, used in error messages.
 * @param options The shards of a tfjs model.
 * @returns The model config where the file has one, and the layers that own weights in model order.
 * @throws {ZooFormatError} For malformed or unsupported files (Theano-ordered kernels, npz weights, graph models).
 *
 * @example
 * ```ts
 * import { readShards } from "./tfjs.ts";
 * const path = "testdata/fixtures/keras_reader/tfjs/model.json";
 * const json = await Deno.readFile(path);
 * const model = await readKeras(json, path, { shards: readShards(json, path) });
 * const [kernel, bias] = model.layers[0].weights;
 * console.log(kernel.shape, bias.shape); // [ 3, 3, 2, 4 ] [ 4 ]
 * ```
 */
export async function readKeras(
  bytes: Uint8Array,
  file: string,
  options: ReadKerasOptions = {},
): Promise<KerasFile> {
  if (startsWithSignature(bytes, HDF5_SIGNATURE)) return await readHdf5(bytes, file);
  if (startsWithSignature(bytes, ZIP_SIGNATURE)) return await readKerasZip(bytes, file);
  if (firstNonSpace(bytes) === "{".charCodeAt(0)) {
    return readTfjsLayers(bytes, file, options.shards);
  }
  throw new ZooFormatError(
    file,
    "not a Keras file: expected HDF5 (.h5), a Keras 3 zip (.keras) or a tfjs model.json",
  );
}

function firstNonSpace(bytes: Uint8Array): number | undefined {
  return bytes.find((byte) => byte !== 0x20 && byte !== 0x09 && byte !== 0x0a && byte !== 0x0d);
}
