/**
 * `predict --weights FILE --input X.npy --output Y.npy [--input-layout nchw|nhwc]
 * [--backend …]`: logits of a batch stored as `.npy`, from a zoo ResNet or any Keras/ONNX
 * network run from its own graph.
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
import { resolveBytes } from "../pipelines/resolve.ts";
import { createModel } from "../runtime/model.ts";
import { readNpy, writeNpy } from "../formats/npy.ts";
import { readWholeFile, writeAtomically } from "../formats/files.ts";
import { ZooFormatError } from "../arch/errors.ts";

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
  await backend(args, true);
  const input = readNpy(await Deno.readFile(inputPath), inputPath);
  if (input.shape.length !== 4) {
    throw new ZooFormatError(inputPath, `expected a 4-D input, got shape [${input.shape}]`);
  }
  const data = input.data instanceof Float32Array
    ? input.data
    : Float32Array.from(input.data as ArrayLike<number>);
  const x = tf.tensor4d(data, input.shape as [number, number, number, number]);
  const { name, y } = await runModel(weightsPath, x, layout);
  await writeAtomically(outputPath, writeNpy(y.shape, (await y.data()) as Float32Array));
  console.log(`${name}: wrote logits [${y.shape}] to ${outputPath}`);
}

/** Runs a zoo ResNet, or any Keras/ONNX graph, on a batch in the given layout. */
async function runModel(path: string, x: tf.Tensor4D, layout: "nchw" | "nhwc") {
  const resolved = await resolveBytes(await readWholeFile(path), path);
  if (resolved.kind === "zoo") {
    const model = createModel(resolved.model.spec, {
      weights: resolved.model.weights,
      dataFormat: layout === "nchw" ? "channels_first" : "channels_last",
    });
    return { name: resolved.model.spec.name, y: model.predict(x) };
  }
  const graph = await resolved.load();
  const input = graph.layout === layout
    ? x
    : tf.transpose(x, layout === "nchw" ? [0, 2, 3, 1] : [0, 3, 1, 2]);
  return { name: `${path} (its own graph)`, y: graph.predict(input as tf.Tensor4D) };
}
