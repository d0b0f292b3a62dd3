/**
 * Setting a rebuilt model's weights from a Keras file's tensors: by variable name where the file
 * names them, else in creation order, each checked against the shape the model's config built.
 *
 * @example
 * ```ts
 * import * as tfl from "@tensorflow/tfjs-layers";
 * import { useBackend } from "../../runtime/backend.ts";
 * import { setWeights } from "./weights.ts";
 * await useBackend("cpu");
 * import type { NamedTensor } from "../../formats/tensor.ts";
 * const dense = tfl.layers.dense({ name: "fc", units: 1, inputShape: [2] });
 * const model = tfl.sequential({ layers: [dense] });
 * const tensor = (name: string, shape: number[], data: Float32Array): NamedTensor =>
 *   ({ name, shape, dtype: "float32", data });
 * const kernel = tensor("fc/kernel:0", [2, 1], Float32Array.of(1, 2));
 * const bias = tensor("fc/bias:0", [1], Float32Array.of(0.5));
 * setWeights(model, [{ name: "fc", weights: [bias, kernel] }], "fc.h5");
 * console.log(model.getWeights()[0].arraySync()); // [ [ 1 ], [ 2 ] ]
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import type { LayersModel } from "../../runtime/tensor.ts";
import type { KerasLayerWeights } from "../../formats/keras/types.ts";
import type { NamedTensor } from "../../formats/tensor.ts";
import { ZooFormatError } from "../../arch/errors.ts";

/** The layers of a model that own weights, nested models opened up. */
function leafLayers(model: LayersModel): tfl.layers.Layer[] {
  return model.layers.flatMap((layer) =>
    layer instanceof tfl.LayersModel ? leafLayers(layer) : [layer]
  );
}

/** `conv2d/kernel:0` → `kernel`; Keras 3 names of unknown variables are their index (`0`). */
function parameterName(tensorName: string): string {
  return tensorName.slice(tensorName.lastIndexOf("/") + 1).replace(/:\d+$/, "");
}

/**
 * The file's tensors keyed by the layer that owns them. A nested model of a Keras 2 file is one
 * entry holding all its layers' tensors, named `<layer>/<variable>:0`; those are split by layer.
 */
function tensorsByLayer(
  fileLayers: KerasLayerWeights[],
  leafNames: Set<string>,
  file: string,
): Map<string, NamedTensor[]> {
  const byLayer = new Map<string, NamedTensor[]>();
  for (const layer of fileLayers) {
    for (const tensor of layer.weights) {
      const owner = leafNames.has(layer.name) ? layer.name : tensor.name.split("/").at(-2);
      if (owner === undefined || !leafNames.has(owner)) {
        throw new ZooFormatError(
          file,
          `the file has weight '${tensor.name}' for layer '${layer.name}', which the model config lacks`,
        );
      }
      byLayer.set(owner, [...byLayer.get(owner) ?? [], tensor]);
    }
  }
  return byLayer;
}

/**
 * Gives each layer its tensors from the file: by variable name (`kernel`, `moving_mean`, …) where
 * the file names them, else in the layer's creation order, which Keras and tfjs share.
 */
export function setWeights(
  model: LayersModel,
  fileLayers: KerasLayerWeights[],
  file: string,
): void {
  const leaves = leafLayers(model);
  const byLayer = tensorsByLayer(fileLayers, new Set(leaves.map((layer) => layer.name)), file);
  for (const layer of leaves) {
    const variables = layer.weights;
    const where = `layer '${layer.name}' (${layer.getClassName()})`;
    const expected = variables.map((variable) => parameterName(variable.originalName));
    const tensors = byLayer.get(layer.name) ?? [];
    if (tensors.length !== variables.length) {
      throw new ZooFormatError(
        file,
        `${where} has ${tensors.length} weights in the file ` +
          `[${
            tensors.map((tensor) => tensor.name)
          }], the model needs ${variables.length} [${expected}]`,
      );
    }
    if (variables.length === 0) continue;
    // Keras loads by creation order; names, where the file has the variables' own, also guard
    // against a reordered file.
    const names = tensors.map((tensor) => parameterName(tensor.name));
    const byName = expected.every((name) => names.includes(name));
    const ordered = byName ? expected.map((name) => tensors[names.indexOf(name)]) : tensors;
    const values = ordered.map((tensor, i) => {
      const shape = variables[i].shape;
      if (tensor.shape.join() !== shape.join()) {
        throw new ZooFormatError(
          file,
          `${where}: tensor '${tensor.name}' has shape [${tensor.shape}], ` +
            `the model's '${variables[i].originalName}' needs [${shape}]`,
        );
      }
      return tf.tensor(tensor.data as Float32Array, tensor.shape, variables[i].dtype);
    });
    layer.setWeights(values);
    tf.dispose(values);
  }
}
