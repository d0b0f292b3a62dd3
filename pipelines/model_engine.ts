/**
 * A resolved model on the engine a choice names, whatever the model is: a zoo ResNet (tfjs, or
 * onnxruntime on its ONNX export), an ONNX graph of its own (onnxruntime runs the file as it
 * is; tfjs runs the zoo's graph runner), or a Keras graph (tfjs only). Every command that runs
 * a model opens it here, so `--engine` means the same everywhere.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { useBackend } from "../runtime/backend.ts";
 * import { resolveModel } from "./resolve.ts";
 * import { openEngine } from "./model_engine.ts";
 * await useBackend("wasm");
 * const opened = await openEngine(await resolveModel("testdata/fixtures/onnx_ops/pools_op13.onnx"), {
 *   engine: "onnxruntime",
 * });
 * const y = await opened.engine.predict(tf.zeros([2, 16, 16, 3]));
 * console.log(opened.engine.name, opened.outputs, y.shape); // onnxruntime probabilities [ 2, 10 ]
 * await opened.engine.dispose();
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import { readOnnx } from "../formats/onnx.ts";
import { tfjsEngineName } from "../runtime/backend.ts";
import {
  createEngine,
  type Engine,
  type EngineChoice,
  ortEngineFromOnnx,
  prefersOrt,
} from "../runtime/engine.ts";
import { createModel } from "../runtime/model.ts";
import { type GraphOutputs, onnxGraphInfo } from "../graph/graph_model.ts";
import type { GraphResolution, ResolvedModel } from "./resolve.ts";

/**
 * Options of {@link openEngine}.
 *
 * @example
 * ```ts
 * import type { OpenEngineOptions } from "./model_engine.ts";
 * const options: OpenEngineOptions = { engine: "tfjs" };
 * console.log(options.engine); // tfjs
 * ```
 */
export interface OpenEngineOptions {
  /** Engine to run on (default `auto`: the fastest that loads here). */
  engine?: EngineChoice;
  /** onnxruntime graph optimisation (see `OrtSessionOptions.optimization`). */
  ortOptimization?: "all" | "extended";
}

/**
 * A model ready to run, with what its callers need to know about its input and output.
 *
 * @example
 * ```ts
 * import { resolveModel } from "./resolve.ts";
 * import { openEngine, type OpenedModel } from "./model_engine.ts";
 * const opened: OpenedModel = await openEngine(await resolveModel());
 * console.log(opened.classes, opened.channels, opened.outputs); // 10 3 logits
 * await opened.engine.dispose();
 * ```
 */
export interface OpenedModel {
  /** The model on its engine; takes NHWC batches. */
  engine: Engine;
  /** Output classes (the last output dimension). */
  classes: number;
  /** Input channels, when the model declares them. */
  channels?: number;
  /** Raw `logits`, or `probabilities` when the model ends in a softmax. */
  outputs: GraphOutputs;
}

/**
 * Opens a resolved model on the engine `options.engine` names: `auto` runs zoo ResNets and ONNX
 * graphs on onnxruntime where it loads and no hardware GPU is present (as `createEngine`
 * decides), Keras graphs on tfjs. A forced `onnxruntime` for a Keras graph is an error that
 * says so.
 *
 * @example
 * ```ts
 * import { useBackend } from "../runtime/backend.ts";
 * import { resolveModel } from "./resolve.ts";
 * await useBackend("wasm");
 * const keras = await openEngine(await resolveModel("testdata/keras-mlperf-tiny/resnet8_cifar10.h5"));
 * console.log(keras.engine.name, keras.outputs); // tfjs-wasm probabilities
 * await keras.engine.dispose();
 * ```
 */
export async function openEngine(
  resolved: ResolvedModel,
  options: OpenEngineOptions = {},
): Promise<OpenedModel> {
  const choice = options.engine ?? "auto";
  const ortOptions = { optimization: options.ortOptimization };
  if (resolved.kind === "zoo") {
    const { spec, weights } = resolved.model;
    const model = createModel(spec, { weights });
    const engine = await createEngine(model, choice, ortOptions);
    return {
      // The model was made here, so it goes with its engine.
      engine: { ...engine, dispose: () => engine.dispose().then(() => model.dispose()) },
      classes: spec.classes,
      channels: 3,
      outputs: "logits",
    };
  }
  if (resolved.onnx && await prefersOrt(choice)) {
    const info = onnxGraphInfo(await readOnnx(resolved.onnx, resolved.name));
    return { engine: await ortEngineFromOnnx(resolved.onnx, ortOptions), ...info };
  }
  if (choice === "onnxruntime") {
    throw new Error(
      `${resolved.name}: engine 'onnxruntime' runs ONNX files and the zoo's ResNets; ` +
        "this is a Keras model, which runs on --engine tfjs",
    );
  }
  return await tfjsGraph(resolved);
}

/** A network's own graph on the active tfjs backend. */
async function tfjsGraph(resolved: GraphResolution): Promise<OpenedModel> {
  const graph = await resolved.load();
  const nchw = graph.layout === "nchw";
  return {
    engine: {
      name: tfjsEngineName(),
      // Engines take NHWC; ONNX graphs run in their declared NCHW.
      predict: (x) =>
        Promise.resolve(tf.tidy(() => graph.predict(nchw ? tf.transpose(x, [0, 3, 1, 2]) : x))),
      dispose: () => Promise.resolve(graph.dispose()),
    },
    classes: graph.classes,
    ...(graph.channels === undefined ? {} : { channels: graph.channels }),
    outputs: graph.outputs,
  };
}
