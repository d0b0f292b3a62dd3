/**
 * `predict --weights FILE --input X.npy --output Y.npy [--input-layout nchw|nhwc]
 * [--shortcut VARIANT] [--backend …]`: logits of a batch stored as `.npy`, from a zoo ResNet
 * (a 4-D image batch) or any Keras/ONNX network run from its own graph (a batch of the rank it
 * declares: audio features, a Dense network's vectors).
 *
 * @example
 * ```ts
 * import { predict } from "./predict.ts";
 * import { parseArgv } from "./args.ts";
 * const output = await Deno.makeTempFile({ suffix: ".npy" });
 * await predict(parseArgv([
 *   "predict", "--weights", "testdata/fixtures/nets/tv_basic.onnx",
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
import { type Args, backend, option, UsageError } from "./args.ts";
import { ownGraphWarning, resolveBytes } from "../pipelines/resolve.ts";
import { createModel } from "../runtime/model.ts";
import { readNpy, writeNpy } from "../formats/npy.ts";
import { readWholeFile, writeAtomically } from "../formats/files.ts";
import { ZooFormatError } from "../arch/errors.ts";
import type { ShortcutChoice } from "../convert/structure.ts";
import { printWarnings, shortcutOption } from "./source_options.ts";

/**
 * Runs `predict`.
 *
 * @example
 * ```ts
 * import { parseArgv } from "./args.ts";
 * const output = await Deno.makeTempFile({ suffix: ".npy" });
 * await predict(parseArgv([
 *   "predict", "--weights", "testdata/fixtures/keras_models/keras2_nested.h5",
 *   "--input", "testdata/fixtures/keras_models/keras2_nested_input.npy", "--output", output,
 * ]));
 * // testdata/fixtures/keras_models/keras2_nested.h5 (its own graph): wrote logits [2,3] to …
 * await Deno.remove(output);
 * ```
 */
export async function predict(args: Args): Promise<void> {
  const weightsPath = option(args, "weights");
  const inputPath = option(args, "input");
  const outputPath = option(args, "output");
  const layout = args["input-layout"] ?? "nhwc";
  if (layout !== "nchw" && layout !== "nhwc") {
    throw new UsageError(`--input-layout must be nchw or nhwc, got '${layout}'`);
  }
  const shortcut = shortcutOption(args);
  await backend(args, true);
  const input = readNpy(await Deno.readFile(inputPath), inputPath);
  const data = input.data instanceof Float32Array
    ? input.data
    : Float32Array.from(input.data as ArrayLike<number>);
  const x = tf.tensor(data, input.shape);
  const { name, y } = await runModel(weightsPath, x, layout, inputPath, shortcut);
  await writeAtomically(outputPath, writeNpy(y.shape, (await y.data()) as Float32Array));
  console.log(`${name}: wrote logits [${y.shape}] to ${outputPath}`);
}

/**
 * Runs a zoo ResNet (on a 4-D image batch), or any Keras/ONNX graph on a batch of the rank it
 * declares; a 4-D batch is given in `layout` and transposed to the graph's own.
 */
async function runModel(
  path: string,
  x: tf.Tensor,
  layout: "nchw" | "nhwc",
  inputPath: string,
  shortcut?: ShortcutChoice,
) {
  const resolved = await resolveBytes(await readWholeFile(path), path, { shortcut });
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
      `${path} takes a ${declared}-D input [${
        graph.inputShape.map((d) => d ?? "?")
      }], got shape [${x.shape}]`,
    );
  }
  const input = x.rank !== 4 || graph.layout === layout
    ? x
    : tf.transpose(x, layout === "nchw" ? [0, 2, 3, 1] : [0, 3, 1, 2]);
  return { name: `${path} (its own graph)`, y: graph.predict(input) };
}
