/**
 * `predict --weights NAME --input X.npy --output Y.npy [--input-layout nchw|nhwc]
 * [--shortcut VARIANT] [--backend …]`: logits of a batch stored as `.npy`, from a zoo ResNet
 * (a 4-D image batch) or any Keras/ONNX network run from its own graph (a batch of the rank it
 * declares: audio features, a Dense network's vectors). What a foreign file could not tell, and
 * why a network runs as its own graph, is printed on stderr as warnings.
 *
 * @example
 * ```ts
 * import { predict, PREDICT } from "./predict.ts";
 * import { parseCommand } from "./args.ts";
 * const output = await Deno.makeTempFile({ suffix: ".npy" });
 * await predict(parseCommand(PREDICT, [
 *   "--weights", "testdata/fixtures/nets/tv_basic.onnx",
 *   "--input", "testdata/fixtures/nets/tv_basic_input.npy", "--input-layout", "nchw",
 *   "--output", output,
 * ]));
 * // resnet12_custom: wrote logits [2,10] to …
 * await Deno.remove(output);
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import { backend, outputFolderExists } from "./args.ts";
import {
  type Args,
  BACKEND_FLAG,
  CACHE_ENVIRONMENT,
  type CommandSpec,
  MODEL_MEANING,
  THREADS_FLAG,
} from "./flags.ts";
import { ownGraphWarning, resolveModel } from "../pipelines/resolve.ts";
import type { ShortcutChoice } from "../convert/structure.ts";
import { printWarnings, SHORTCUT_FLAG, shortcutChoice } from "./source_options.ts";
import { createModel } from "../runtime/model.ts";
import { readNpy, writeNpy } from "../formats/npy.ts";
import { readWholeFile, writeAtomically } from "../formats/files.ts";
import { ZooFormatError } from "../arch/errors.ts";

/**
 * `predict` on the command line: flags, examples, environment.
 *
 * @example
 * ```ts
 * import { PREDICT } from "./predict.ts";
 * console.log(PREDICT.flags.map((f) => f.name).slice(0, 3)); // [ "weights", "input", "output" ]
 * ```
 */
export const PREDICT = {
  name: "predict",
  brief: "a model's outputs for a .npy batch",
  summary: "Run a model on a batch stored as .npy and write what it outputs (logits) as .npy: " +
    "a zoo ResNet, or any Keras or ONNX network run from its own graph.",
  flags: [
    {
      name: "weights",
      kind: "string",
      aliases: ["model", "m"],
      value: "NAME",
      required: true,
      meaning: `the model: ${MODEL_MEANING}`,
    },
    {
      name: "input",
      kind: "string",
      value: "X.npy",
      required: true,
      meaning: "the batch: a 4-D float .npy array of images in the layout --input-layout " +
        "names, or for a network run from its own graph an array of the rank it declares",
    },
    {
      name: "output",
      kind: "string",
      value: "Y.npy",
      required: true,
      meaning: "where to write the outputs as float32 .npy; its folder must exist",
    },
    {
      name: "input-layout",
      kind: "string",
      value: "LAYOUT",
      choices: ["nhwc", "nchw"],
      default: "nhwc",
      meaning: "the input's layout: nhwc (channels last, Keras) or nchw (channels first, " +
        "PyTorch)",
    },
    SHORTCUT_FLAG,
    BACKEND_FLAG,
    THREADS_FLAG,
  ],
  examples: [
    "denozoo predict --weights resnet20.th --input x.npy --input-layout nchw --output y.npy",
    "denozoo predict --weights resnet50 --input batch.npy --output logits.npy   # registry weights",
    "denozoo predict --weights converted/ --input x.npy --output y.npy          # a convert folder",
  ],
  env: CACHE_ENVIRONMENT,
} as const satisfies CommandSpec;

/**
 * Runs `predict`.
 *
 * @example
 * ```ts
 * import { parseCommand } from "./args.ts";
 * const output = await Deno.makeTempFile({ suffix: ".npy" });
 * await predict(parseCommand(PREDICT, [
 *   "--weights", "testdata/fixtures/keras_models/keras2_nested.h5",
 *   "--input", "testdata/fixtures/keras_models/keras2_nested_input.npy", "--output", output,
 * ]));
 * // testdata/fixtures/keras_models/keras2_nested.h5 (its own graph): wrote logits [2,3] to …
 * await Deno.remove(output);
 * ```
 */
export async function predict(args: Args<typeof PREDICT>): Promise<void> {
  const { weights: weightsPath, input: inputPath, output: outputPath } = args;
  const layout = args["input-layout"];
  await outputFolderExists(outputPath, "output");
  await backend(args, true);
  const input = readNpy(await readWholeFile(inputPath), inputPath);
  const data = input.data instanceof Float32Array
    ? input.data
    : Float32Array.from(input.data as ArrayLike<number>);
  const x = tf.tensor(data, input.shape);
  const { name, y } = await runModel(
    weightsPath,
    x,
    layout,
    inputPath,
    shortcutChoice(args.shortcut),
  );
  await writeAtomically(outputPath, writeNpy(y.shape, (await y.data()) as Float32Array));
  console.log(`${name}: wrote logits [${y.shape}] to ${outputPath}`);
}

/**
 * Runs a zoo ResNet (on a 4-D image batch), or any Keras/ONNX graph on a batch of the rank it
 * declares; a 4-D batch is given in `layout` and transposed to the graph's own.
 */
async function runModel(
  name: string,
  x: tf.Tensor,
  layout: "nchw" | "nhwc",
  inputPath: string,
  shortcut?: ShortcutChoice,
) {
  const resolved = await resolveModel(name, { progress: true, shortcut });
  if (resolved.kind === "zoo") {
    printWarnings(resolved.model.assumptions);
    if (x.rank !== 4) {
      throw new ZooFormatError(
        inputPath,
        `expected a 4-D batch of images for ${resolved.model.spec.name}, got shape [${x.shape}]`,
      );
    }
    const model = createModel(resolved.model.spec, {
      weights: resolved.model.weights,
      dataFormat: layout === "nchw" ? "channels_first" : "channels_last",
    });
    return { name: resolved.model.spec.name, y: model.predict(x as tf.Tensor4D) };
  }
  printWarnings([ownGraphWarning(resolved)]);
  const graph = await resolved.load();
  const declared = graph.inputShape.length;
  if (declared > 0 && x.rank !== declared) {
    throw new ZooFormatError(
      inputPath,
      `${resolved.name} takes a ${declared}-D input [${
        graph.inputShape.map((d) => d ?? "?")
      }], got shape [${x.shape}]`,
    );
  }
  const input = x.rank !== 4 || graph.layout === layout
    ? x
    : tf.transpose(x, layout === "nchw" ? [0, 2, 3, 1] : [0, 3, 1, 2]);
  return { name: `${resolved.name} (its own graph)`, y: graph.predict(input) };
}
