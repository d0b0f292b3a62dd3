/**
 * `predict --weights FILE --input X.npy --output Y.npy [--input-layout nchw|nhwc] [--batch 16]
 * [--engine …] [--backend …]`: logits of inputs stored as `.npy`, from a zoo ResNet or any
 * Keras/ONNX network run from its own graph, streamed from the input file to the output file
 * batch by batch.
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
import { type Args, backend, engine, option, positiveInt, UsageError } from "./args.ts";
import { resolveModel } from "../pipelines/resolve.ts";
import { openEngine } from "../pipelines/model_engine.ts";
import { type Engine, prefersOrt } from "../runtime/engine.ts";
import {
  BatchTooLargeError,
  type InputLayout,
  inputMismatch,
  isOutOfMemory,
} from "../runtime/input_check.ts";
import { npyHeader, type NpyRows, openNpy } from "../formats/npy.ts";
import type { NamedTensor } from "../formats/tensor.ts";
import { writeAtomically } from "../formats/files.ts";
import { ZooFormatError } from "../arch/errors.ts";

/**
 * Runs `predict`: the input is read, run and written `--batch` rows at a time (default 16), so
 * memory depends on the batch, not on how many rows the file holds.
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
  const batch = positiveInt(args, "batch", 16);
  const choice = engine(args);
  using input = await openNpy(inputPath);
  if (input.shape[0] === 0) throw new ZooFormatError(inputPath, "holds no rows to predict");
  const resolved = await resolveModel(weightsPath);
  // A Keras graph runs on tfjs whatever `auto` prefers.
  const onTfjs = resolved.kind === "graph" && !resolved.onnx || !(await prefersOrt(choice));
  await backend(args, onTfjs);
  const opened = await openEngine(resolved, {
    engine: choice,
    ortOptimization: input.shape[0] <= batch ? "extended" : "all",
  });
  let failure: unknown;
  try {
    const mismatch = inputMismatch(
      input.shape,
      layout,
      opened.channels,
      (other) => `pass --input-layout ${other}`,
    );
    if (mismatch) throw new ZooFormatError(inputPath, mismatch);
    const shape: number[] = [];
    await writeAtomically(outputPath, outputRows(input, opened.engine, layout, batch, shape));
    const name = resolved.kind === "zoo"
      ? resolved.model.spec.name
      : `${resolved.name} (its own graph)`;
    console.log(`${name}: wrote logits [${shape}] to ${outputPath}`);
    console.error(`engine: ${opened.engine.name}`);
  } catch (error) {
    failure = error;
    throw error;
  } finally {
    if (!isOutOfMemory(failure)) await opened.engine.dispose();
  }
}

/**
 * The output `.npy` file, batch by batch: its header once the first batch tells the output's
 * shape (also written into `shape`), then each batch's rows as they are computed.
 */
async function* outputRows(
  input: NpyRows,
  engine: Engine,
  layout: InputLayout,
  batch: number,
  shape: number[],
): AsyncGenerator<Uint8Array> {
  const rows = input.shape[0];
  for (let start = 0; start < rows; start += batch) {
    const count = Math.min(batch, rows - start);
    const data = float32(await input.readRows(start, count));
    const y = await runBatch(engine, data, [count, ...input.shape.slice(1)], layout);
    const values = (await y.data()) as Float32Array;
    if (start === 0) {
      shape.push(rows, ...y.shape.slice(1));
      yield npyHeader(shape);
    }
    y.dispose();
    yield new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  }
}

/** Rows as float32, whatever the file stores. */
function float32(data: NamedTensor["data"]): Float32Array {
  if (data instanceof Float32Array) return data;
  return data instanceof BigInt64Array ? Float32Array.from(data, Number) : Float32Array.from(data);
}

/** One batch through the engine (which takes NHWC); running out of memory names the batch. */
async function runBatch(
  engine: Engine,
  data: Float32Array,
  shape: number[],
  layout: InputLayout,
): Promise<tf.Tensor> {
  const x = tf.tidy(() => {
    const t = tf.tensor4d(data, shape as [number, number, number, number]);
    return layout === "nchw" ? tf.transpose(t, [0, 2, 3, 1]) : t;
  });
  let y: tf.Tensor;
  try {
    y = await engine.predict(x);
  } catch (error) {
    if (error instanceof BatchTooLargeError) {
      x.dispose();
      throw new Error(
        `a batch of ${shape[0]} would run ${engine.name} out of memory: ` +
          `lower --batch to at most ${error.maxBatch}`,
      );
    }
    if (!isOutOfMemory(error)) {
      x.dispose();
      throw error;
    }
    // Nothing is disposed: a wasm heap that ran out is no longer usable.
    throw new Error(
      `out of memory running a batch of ${shape[0]} on ${engine.name}: ` +
        `lower --batch (try --batch ${Math.max(1, Math.floor(shape[0] / 4))})`,
    );
  }
  x.dispose();
  return y;
}
