/**
 * Keras HDF5 files (`.h5`): Keras 2 weights saved with `save_weights` (e.g. keras.applications
 * `*_tf_kernels.h5`), Keras 2 full models saved with `model.save("x.h5")`, and bare Keras 3
 * `.weights.h5` files, all read through h5wasm ({@link withHdf5}).
 *
 * @example
 * ```ts
 * import { readHdf5 } from "./h5.ts";
 * const file = "testdata/keras-mlperf-tiny/resnet8_cifar10.h5";
 * const model = await readHdf5(await Deno.readFile(file), file);
 * console.log(model.format, model.kerasVersion, model.layers.length); // h5-model 2.4.0 17
 * ```
 *
 * @module
 */

import { ZooFormatError } from "../../arch/errors.ts";
import { configClassName, configLayerName, configLayers, parseJsonObject } from "./config.ts";
import {
  childGroup,
  type Hdf5Source,
  hdf5StringAttr,
  hdf5StringListAttr,
  readDataset,
  withHdf5,
} from "./hdf5.ts";
import { keras3Container, readKeras3Layers } from "./keras3.ts";
import type { KerasFile, KerasLayerWeights } from "./types.ts";
import type { Group } from "h5wasm/node";

/**
 * Reads a Keras HDF5 file: Keras 2 weights (`layer_names` on the root), a Keras 2 full model
 * (`model_weights` group and `model_config` attribute) or bare Keras 3 weights (`layers` group).
 *
 * @param bytes The file's contents.
 * @param file The file named in errors.
 * @throws {ZooFormatError} For Theano-ordered kernels, other HDF5 files and malformed ones.
 *
 * @example
 * ```ts
 * import { readHdf5 } from "./h5.ts";
 * const file = "testdata/fixtures/keras_reader/applications_weights.h5";
 * const model = await readHdf5(await Deno.readFile(file), file);
 * const names = model.layers.map((layer) => layer.name);
 * console.log(model.format, names); // h5-weights [ "conv1_conv", "conv1_bn", "predictions" ]
 * ```
 */
export function readHdf5(bytes: Uint8Array, file: string): Promise<KerasFile> {
  return withHdf5(bytes, file, (root, source) => {
    const modelWeights = childGroup(root, "model_weights", source);
    const backend = hdf5StringAttr(root, "backend", file) ??
      (modelWeights && hdf5StringAttr(modelWeights, "backend", file));
    if (backend === "theano") {
      throw new ZooFormatError(
        file,
        "written by the Theano backend: its kernels are flipped and channels_first, which this reader " +
          "does not convert. Load the file with Keras on the Theano backend, convert the kernels " +
          "(keras.utils.convert_all_kernels_in_model), then re-save with the TensorFlow backend",
      );
    }
    const kerasVersion = hdf5StringAttr(root, "keras_version", file) ??
      (modelWeights && hdf5StringAttr(modelWeights, "keras_version", file));
    const versionFields = {
      ...(kerasVersion === undefined ? {} : { kerasVersion }),
      ...(backend === undefined ? {} : { backend }),
    };
    if (modelWeights) {
      const configText = hdf5StringAttr(root, "model_config", file);
      const modelConfig = configText === undefined
        ? undefined
        : parseJsonObject(configText, file, "root attribute model_config");
      const classNames = new Map<string, string>();
      if (modelConfig) {
        for (const entry of configLayers(modelConfig) ?? []) {
          classNames.set(configLayerName(entry, file), configClassName(entry, file));
        }
      }
      return {
        format: "h5-model",
        ...versionFields,
        ...(modelConfig ? { modelConfig } : {}),
        layers: readKeras2Layers(modelWeights, source, classNames),
      };
    }
    if (hdf5StringListAttr(root, "layer_names", file) !== undefined) {
      return { format: "h5-weights", ...versionFields, layers: readKeras2Layers(root, source) };
    }
    if (keras3Container(root, source)) {
      return { format: "keras3", ...versionFields, layers: readKeras3Layers(root, source) };
    }
    throw new ZooFormatError(
      file,
      "HDF5 file is not a Keras weights file: no layer_names attribute, model_weights group or " +
        "Keras 3 layers group",
    );
  });
}

/** Keras 2 layout: `layer_names` on the group, one subgroup per layer listing its `weight_names`. */
function readKeras2Layers(
  group: Group,
  source: Hdf5Source,
  classNames: Map<string, string> = new Map(),
): KerasLayerWeights[] {
  const layerNames = hdf5StringListAttr(group, "layer_names", source.file);
  if (layerNames === undefined) {
    throw new ZooFormatError(source.file, `group '${group.path}' has no layer_names attribute`);
  }
  const layers: KerasLayerWeights[] = [];
  for (const name of layerNames) {
    const layerGroup = childGroup(group, name, source);
    if (!layerGroup) {
      throw new ZooFormatError(
        source.file,
        `layer '${name}' is listed in layer_names but '${group.path}' has no group for it`,
      );
    }
    const weightNames = hdf5StringListAttr(layerGroup, "weight_names", source.file);
    if (weightNames === undefined) {
      throw new ZooFormatError(
        source.file,
        `layer group '${layerGroup.path}' has no weight_names attribute`,
      );
    }
    if (weightNames.length === 0) continue;
    const className = classNames.get(name);
    layers.push({
      name,
      ...(className === undefined ? {} : { className }),
      weights: weightNames.map((weightName) =>
        readDataset(layerGroup, weightName, weightName, source)
      ),
    });
  }
  return layers;
}
