/**
 * `predict --weights NAME --input X.npy --output Y.npy [--input-layout nchw|nhwc] [--batch 16]
 * [--engine …] [--shortcut VARIANT] [--backend …]`: logits of inputs stored as `.npy`, from a zoo
 * ResNet (a 4-D image batch) or any Keras/ONNX network run from its own graph (a batch of the
 * rank it declares: audio features, a Dense network's vectors), streamed from the input file to
 * the output file `--batch` rows at a time, so memory does not grow with the number of rows.
 * What a foreign file could not tell, and why a network runs as its own graph, is printed on
 * stderr as warnings.
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
import { backend, engine, outputFolderExists } from "./args.ts";
import {
  type Args,
  BACKEND_FLAG,
  CACHE_ENVIRONMENT,
  type CommandSpec,
  ENGINE_FLAG,
  MODEL_MEANING,
  THREADS_FLAG,
} from "./flags.ts";
import { ownGraphWarning, resolveModel } from "../pipelines/resolve.ts";
import { openEngine } from "../pipelines/model_engine.ts";
import { printWarnings, SHORTCUT_FLAG, shortcutChoice } from "./source_options.ts";
import { type Engine, prefersOrt } from "../runtime/engine.ts";
import {
  BatchTooLargeError,
  type InputLayout,
  inputMismatch,
  isOutOfMemory,
} from "../runtime/input_check.ts";
import type { GraphShape } from "../graph/graph_model.ts";
import { npyHeader, type NpyRows, openNpy } from "../formats/npy.ts";
import type { NamedTensor } from "../formats/tensor.ts";
import { writeAtomically } from "../formats/files.ts";
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
  summary: "Run a model on inputs stored as .npy and write what it outputs (logits) as .npy: " +
    "a zoo ResNet, or any Keras or ONNX network run from its own graph. Rows are read, run and " +
    "written --batch at a time, so memory depends on the batch, not on the number of rows.",
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
    {
      name: "batch",
      kind: "integer",
      value: "N",
      min: 1,
      default: 16,
      meaning: "rows per forward pass; memory grows with it, not with the number of rows",
    },
    SHORTCUT_FLAG,
    ENGINE_FLAG,
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
 * Runs `predict`: the input is read, run and written `--batch` rows at a time.
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
  const { weights: weightsPath, input: inputPath, output: outputPath, batch } = args;
  const layout = args["input-layout"];
  const choice = engine(args);
  await outputFolderExists(outputPath, "output");
  using input = await openNpy(inputPath);
  if (input.shape[0] === 0) throw new ZooFormatError(inputPath, "holds no rows to predict");
  const resolved = await resolveModel(weightsPath, {
    progress: true,
    shortcut: shortcutChoice(args.shortcut),
  });
  printWarnings(
    resolved.kind === "zoo" ? resolved.model.assumptions : [ownGraphWarning(resolved)],
  );
  // A graph of its own runs on tfjs unless onnxruntime is asked for by name.
  const onTfjs = resolved.kind === "graph" ? choice !== "onnxruntime" : !(await prefersOrt(choice));
  await backend(args, onTfjs);
  const opened = await openEngine(resolved, {
    engine: choice,
    ortOptimization: input.shape[0] <= batch ? "extended" : "all",
  });
  let failure: unknown;
  try {
    checkInput(inputPath, input.shape, layout, opened.shape, resolved.name);
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
    // A wasm heap that ran out of memory cannot free anything any more.
    if (!isOutOfMemory(failure)) await opened.engine.dispose();
  }
}

/**
 * Refuses an input the model cannot take, saying why: a zoo ResNet takes a 4-D image batch
 * with 3 channels where `--input-layout` puts them; a graph, the rank it declares (and, for
 * images, the channels it declares).
 */
function checkInput(
  path: string,
  shape: readonly number[],
  layout: InputLayout,
  declared: GraphShape,
  model: string,
): void {
  const rank = declared.inputShape.length;
  if (rank !== 4) {
    // A graph that declares no input shape takes what it is given.
    if (rank > 0 && shape.length !== rank) {
      throw new ZooFormatError(
        path,
        `${model} takes a ${rank}-D input [${
          declared.inputShape.map((d) => d ?? "?")
        }], got shape [${shape}]`,
      );
    }
    return;
  }
  const channels = declared.inputShape[declared.layout === "nchw" ? 1 : 3];
  const mismatch = inputMismatch(
    shape,
    layout,
    typeof channels === "number" ? channels : undefined,
    (other) => `pass --input-layout ${other}`,
  );
  if (mismatch) throw new ZooFormatError(path, mismatch);
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

/**
 * One batch through the engine, which takes images NHWC (other ranks as they are); running out
 * of memory names the batch to lower.
 */
async function runBatch(
  engine: Engine,
  data: Float32Array,
  shape: number[],
  layout: InputLayout,
): Promise<tf.Tensor> {
  const x = tf.tidy(() => {
    const t = tf.tensor(data, shape);
    return t.rank === 4 && layout === "nchw" ? tf.transpose(t, [0, 2, 3, 1]) : t;
  });
  let y: tf.Tensor;
  try {
    y = await engine.predict(x as tf.Tensor4D);
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
