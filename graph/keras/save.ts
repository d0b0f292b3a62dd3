/**
 * Writing a model in the tfjs layers format: the `model.json` tfjs itself writes and one weight
 * shard, in memory ({@link serializeLayersModel}) or into a folder ({@link saveLayersModel}).
 *
 * @example
 * ```ts
 * import * as tfl from "@tensorflow/tfjs-layers";
 * import { useBackend } from "../../runtime/backend.ts";
 * import { serializeLayersModel } from "./save.ts";
 * await useBackend("cpu");
 * const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 2, inputShape: [3] })] });
 * const { shards } = await serializeLayersModel(model);
 * console.log(shards.get("group1-shard1of1.bin")?.length); // 32
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import type { LayersModel } from "../../runtime/tensor.ts";
import { writeAtomically } from "../../formats/files.ts";

/** The name of the single weight shard {@link serializeLayersModel} writes. */
const SHARD_NAME = "group1-shard1of1.bin";

/** A model in the tfjs layers format: `model.json` and its weight shards by path. */
export interface LayersModelFiles {
  /**
   * The bytes of `model.json`.
   *
   * @example
   * ```ts
   * import type { LayersModelFiles } from "./save.ts";
   * const format = (files: LayersModelFiles): unknown =>
   *   JSON.parse(new TextDecoder().decode(files.modelJson)).format;
   * console.log(format({ modelJson: new TextEncoder().encode('{"format":"layers-model"}'), shards: new Map() })); // layers-model
   * ```
   */
  modelJson: Uint8Array;
  /**
   * The weight shards, keyed by the paths `model.json` names them by.
   *
   * @example
   * ```ts
   * import type { LayersModelFiles } from "./save.ts";
   * const bytes = (files: LayersModelFiles): number =>
   *   [...files.shards.values()].reduce((total, shard) => total + shard.length, 0);
   * console.log(bytes({ modelJson: new Uint8Array(), shards: new Map([["a.bin", new Uint8Array(8)]]) })); // 8
   * ```
   */
  shards: Map<string, Uint8Array>;
}

/**
 * Encodes a model in the tfjs layers format in memory: the `model.json` tfjs itself writes
 * (`format: "layers-model"`, topology and weights manifest) and one weight shard,
 * `group1-shard1of1.bin`. `loadKerasModel` and `tfl.loadLayersModel` read it back.
 *
 * @param model The model to encode.
 * @returns The bytes of `model.json` and of its shard.
 *
 * @example
 * ```ts
 * import { useBackend } from "../../runtime/backend.ts";
 * import { loadKerasModel } from "./load.ts";
 * await useBackend("cpu");
 * const file = "testdata/fixtures/keras_models/keras3_block.keras";
 * const model = await loadKerasModel(await Deno.readFile(file), file);
 * const { modelJson, shards } = await serializeLayersModel(model);
 * const copy = await loadKerasModel(modelJson, "model.json", { shards });
 * const same = copy.countParams() === model.countParams();
 * console.log([...shards.keys()], same); // [ "group1-shard1of1.bin" ] true
 * model.dispose();
 * copy.dispose();
 * ```
 */
export async function serializeLayersModel(model: LayersModel): Promise<LayersModelFiles> {
  let files: LayersModelFiles | undefined;
  await model.save(tf.io.withSaveHandler((artifacts) => {
    const weights = tf.io.CompositeArrayBuffer.join(artifacts.weightData);
    const modelJson: tf.io.ModelJSON = {
      format: artifacts.format,
      generatedBy: artifacts.generatedBy,
      convertedBy: artifacts.convertedBy,
      modelTopology: artifacts.modelTopology ?? {},
      weightsManifest: [{ paths: [SHARD_NAME], weights: artifacts.weightSpecs ?? [] }],
    };
    files = {
      modelJson: new TextEncoder().encode(JSON.stringify(modelJson)),
      shards: new Map([[SHARD_NAME, new Uint8Array(weights)]]),
    };
    return Promise.resolve({ modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) });
  }));
  return files!;
}

/**
 * Writes a model in the tfjs layers format: `dir/model.json` and `dir/group1-shard1of1.bin`
 * (the directory is created if missing). Each file is written under a temporary name in `dir` and
 * then renamed, so neither name ever holds a partial file; the shard goes first, so a
 * `model.json` is never newer than its weights.
 *
 * @param model The model to write.
 * @param dir The directory to write into.
 *
 * @example
 * ```ts
 * import { useBackend } from "../../runtime/backend.ts";
 * import { loadKerasModel } from "./load.ts";
 * await useBackend("cpu");
 * const file = "testdata/keras-mlperf-tiny/resnet8_cifar10.h5";
 * const model = await loadKerasModel(await Deno.readFile(file), file);
 * const dir = await Deno.makeTempDir();
 * await saveLayersModel(model, dir);
 * const names = [...Deno.readDirSync(dir)].map((entry) => entry.name).sort();
 * console.log(names); // [ "group1-shard1of1.bin", "model.json" ]
 * model.dispose();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function saveLayersModel(model: LayersModel, dir: string): Promise<void> {
  const { modelJson, shards } = await serializeLayersModel(model);
  for (const [name, bytes] of shards) await writeAtomically(`${dir}/${name}`, bytes);
  await writeAtomically(`${dir}/model.json`, modelJson);
}
