/**
 * What the Keras readers return: the layers of a file that own weights, in model order, each with
 * its tensors in the layer's own order and Keras layout, and the model config where the file has
 * one.
 *
 * @example
 * ```ts
 * import type { KerasFile } from "./types.ts";
 * const summary = (file: KerasFile) => `${file.format}: ${file.layers.length} layers`;
 * console.log(summary({ format: "h5-weights", layers: [] })); // h5-weights: 0 layers
 * ```
 *
 * @module
 */

import type { NamedTensor } from "../tensor.ts";

/** Which of the supported Keras layouts a file was read as. */
export type KerasFormat = "h5-weights" | "h5-model" | "keras3" | "tfjs-layers";

/** The weights of one layer, in the order the layer creates them. */
export interface KerasLayerWeights {
  /** The layer's name (`conv1_conv`, `stem_bn`, …). */
  name: string;
  /** The layer's Keras class (`Conv2D`, `BatchNormalization`, …) where the file has a model config. */
  className?: string;
  /** The layer's tensors, e.g. `[kernel, bias]` for Conv2D and Dense. */
  weights: NamedTensor[];
}

/** What `readKeras` found in a file. */
export interface KerasFile {
  /** The layout the file was read as. */
  format: KerasFormat;
  /** The Keras version that wrote the file, where recorded. */
  kerasVersion?: string;
  /** The Keras backend that wrote the file, where recorded (`tensorflow`, …). */
  backend?: string;
  /**
   * The model config (the JSON `{class_name, config}` of the model), when the file has one
   * (h5-model: root attr model_config; keras3: config.json; tfjs-layers: model.json
   * modelTopology.model_config or modelTopology).
   */
  modelConfig?: Record<string, unknown>;
  /** Layers that own weights, in model order. */
  layers: KerasLayerWeights[];
}

/** Options of `readKeras`. */
export interface ReadKerasOptions {
  /** For a tfjs `model.json`: the bytes of each shard, keyed by its path as written in `weightsManifest[].paths`. */
  shards?: Map<string, Uint8Array>;
}
