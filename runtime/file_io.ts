/**
 * `file://` paths for tfjs' model saving and loading in Deno. tfjs registers file handlers only
 * in tfjs-node, so in Deno `layersModel.save("file://…")` fails with "Cannot find any save
 * handlers". These handlers write what tfjs-node writes — a folder with `model.json` (the
 * topology and the weights manifest) and `weights.bin` — and read it back, so
 * `tf.loadLayersModel("file://…/model.json")` works too.
 *
 * @example
 * ```ts
 * import * as tfl from "@tensorflow/tfjs-layers";
 * import { useBackend } from "./backend.ts";
 * import { createModel } from "./model.ts";
 * await useBackend("cpu");
 * const model = createModel("cifar_resnet20", { seed: 1 });
 * const dir = await Deno.makeTempDir();
 * await model.layersModel.save(`file://${dir}/r20`); // the layersModel getter registers the routers
 * const reloaded = await tfl.loadLayersModel(`file://${dir}/r20/model.json`);
 * console.log(reloaded.countParams()); // 271098
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import { writeAtomically } from "../formats/files.ts";

const WEIGHTS_FILE = "weights.bin";
const MODEL_FILE = "model.json";

/** The folder a path names: itself, or the folder of a `….json` file. */
function folderOf(path: string): string {
  return path.endsWith(".json") ? path.slice(0, Math.max(0, path.lastIndexOf("/"))) || "." : path;
}

/** tfjs' handler for saving and loading a model's artifacts (`tf.io.IOHandler`). */
export type IOHandler = tf.io.IOHandler;

/**
 * A tfjs IO handler on the file system: `save` writes `model.json` and `weights.bin` into the
 * folder `path` (made if missing; the weights first, so a `model.json` means both are
 * complete), `load` reads `path` (a `model.json`, or a folder holding one) and the weight files
 * its manifest names.
 *
 * @example
 * ```ts
 * import * as tfl from "@tensorflow/tfjs-layers";
 * import { useBackend } from "./backend.ts";
 * await useBackend("cpu");
 * const dense = tfl.sequential({ layers: [tfl.layers.dense({ units: 2, inputShape: [3] })] });
 * const dir = await Deno.makeTempDir();
 * await dense.save(fileSystem(`${dir}/m`));
 * const back = await tfl.loadLayersModel(fileSystem(`${dir}/m/model.json`));
 * console.log(back.countParams()); // 8
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function fileSystem(path: string): IOHandler {
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      const topology = artifacts.modelTopology;
      if (topology === undefined || topology instanceof ArrayBuffer) {
        throw new Error(`${path}: only a JSON model topology can be saved`);
      }
      const folder = folderOf(path);
      await Deno.mkdir(folder, { recursive: true });
      const weights = artifacts.weightData === undefined
        ? new Uint8Array(0)
        : new Uint8Array(new tf.io.CompositeArrayBuffer(artifacts.weightData).slice());
      const modelJson: tf.io.ModelJSON = {
        modelTopology: topology,
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy,
        weightsManifest: [{ paths: [`./${WEIGHTS_FILE}`], weights: artifacts.weightSpecs ?? [] }],
        ...(artifacts.trainingConfig ? { trainingConfig: artifacts.trainingConfig } : {}),
        ...(artifacts.userDefinedMetadata
          ? { userDefinedMetadata: artifacts.userDefinedMetadata }
          : {}),
      };
      await writeAtomically(`${folder}/${WEIGHTS_FILE}`, [weights]);
      await writeAtomically(`${folder}/${MODEL_FILE}`, [
        new TextEncoder().encode(JSON.stringify(modelJson)),
      ]);
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },
    async load(): Promise<tf.io.ModelArtifacts> {
      const file = path.endsWith(".json") ? path : `${path}/${MODEL_FILE}`;
      const folder = folderOf(file);
      const modelJson = JSON.parse(await Deno.readTextFile(file)) as tf.io.ModelJSON;
      return await tf.io.getModelArtifactsForJSON(modelJson, async (manifest) => {
        const specs = manifest.flatMap((group) => group.weights);
        const buffers = await Promise.all(
          manifest.flatMap((group) => group.paths).map(async (p) => {
            const bytes = await Deno.readFile(`${folder}/${p}`);
            return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
          }),
        );
        return [specs, tf.io.concatenateArrayBuffers(buffers)];
      });
    },
  };
}

let registered = false;

/**
 * Registers {@link fileSystem} for `file://` URLs with tfjs' save and load routers, once.
 * Building a zoo model's LayersModel does it, so its `save("file://…")` just works.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * registerFileRouters();
 * console.log(tf.io.getSaveHandlers("file:///tmp/m").length); // 1
 * ```
 */
export function registerFileRouters(): void {
  if (registered) return;
  registered = true;
  // tfjs' router type says IOHandler, but its registry skips the routers that return null.
  const route =
    ((url: string | string[]) =>
      typeof url === "string" && url.startsWith("file://")
        ? fileSystem(url.slice("file://".length))
        : null) as (url: string | string[]) => tf.io.IOHandler;
  tf.io.registerSaveRouter(route);
  tf.io.registerLoadRouter(route);
}
