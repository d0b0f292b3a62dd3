/**
 * A resolved model on the engine a choice names, whatever the model is: a zoo ResNet (tfjs, or
 * onnxruntime on its ONNX export, as `createEngine` decides), an ONNX graph of its own (tfjs
 * runs the zoo's graph runner; `onnxruntime` runs the file as it is), or a Keras graph (tfjs
 * only). `classify` and `predict` open models here, so `--engine` means the same in both.
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
 * console.log(opened.engine.name, opened.shape.outputs, y.shape); // onnxruntime probabilities [ 2, 10 ]
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
} from "../runtime/engine.ts";
import { createModel } from "../runtime/model.ts";
import { describeOnnxGraph, type GraphShape } from "../graph/graph_model.ts";
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
 * A model ready to run, with what it declares of its input and output.
 *
 * @example
 * ```ts
 * import { resolveModel } from "./resolve.ts";
 * import { openEngine, type OpenedModel } from "./model_engine.ts";
 * const opened: OpenedModel = await openEngine(await resolveModel());
 * console.log(opened.shape); // { layout: "nhwc", inputShape: [ null, null, null, 3 ], classes: 10, outputs: "logits" }
 * await opened.engine.dispose();
 * ```
 */
export interface OpenedModel {
  /**
   * The model on its engine. It takes NHWC batches of images; a graph that declares another
   * rank takes batches of that rank as they are.
   */
  engine: Engine;
  /**
   * What the model declares: for a zoo ResNet, NHWC images of any size with 3 channels and
   * logits; for a graph, what its file says.
   */
  shape: GraphShape;
}

/**
 * Opens a resolved model on the engine `options.engine` names. A zoo ResNet runs where
 * `createEngine` decides (`auto`: a hardware GPU, else onnxruntime, else tfjs); a graph of its
 * own runs on tfjs unless `onnxruntime` is asked for, which runs an ONNX file as it is and is
 * refused, saying why, for a Keras network.
 *
 * @example
 * ```ts
 * import { useBackend } from "../runtime/backend.ts";
 * import { resolveModel } from "./resolve.ts";
 * await useBackend("wasm");
 * const keras = await openEngine(await resolveModel("testdata/keras-mlperf-tiny/resnet8_cifar10.h5"));
 * console.log(keras.engine.name, keras.shape.outputs); // tfjs-wasm probabilities
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
    // An int8 zoo file's calibration makes onnxruntime run it in int8 (asked of zoo files only:
    // for another file, `info` hashes it).
    const calibration = resolved.model.format === "zoo-safetensors"
      ? (await resolved.info()).calibration
      : undefined;
    const engine = await createEngine(model, choice, { ...ortOptions, calibration });
    return {
      // The model was made here, so it goes with its engine.
      engine: { ...engine, dispose: () => engine.dispose().then(() => model.dispose()) },
      shape: {
        layout: "nhwc",
        inputShape: [null, null, null, 3],
        classes: spec.classes,
        outputs: "logits",
      },
    };
  }
  if (choice !== "onnxruntime") return await tfjsGraph(resolved);
  if (!resolved.onnx) {
    throw new Error(
      `${resolved.name} is a Keras network, which runs on tfjs only; ` +
        "engine 'onnxruntime' runs zoo ResNets and ONNX files (use --engine tfjs or auto)",
    );
  }
  const shape = describeOnnxGraph(await readOnnx(resolved.onnx, resolved.name), resolved.name);
  // Only a 4-D input is an image batch to bring from NHWC to the graph's layout.
  const layout = shape.inputShape.length === 4 ? shape.layout : "nhwc";
  return { engine: await ortEngineFromOnnx(resolved.onnx, ortOptions, layout), shape };
}

/** A network's own graph on the active tfjs backend. */
async function tfjsGraph(resolved: GraphResolution): Promise<OpenedModel> {
  const graph = await resolved.load();
  const { predict: _, checkBatch: __, dispose: ___, ...shape } = graph;
  return {
    engine: {
      name: tfjsEngineName(),
      predict: async (x) => {
        // Images arrive NHWC; PyTorch's ONNX exports take their declared NCHW.
        const nchw = x.rank === 4 && graph.layout === "nchw";
        const [batch, height, width, channels] = x.shape;
        // On wasm, a batch too large for the heap is refused before it runs (see checkBatch).
        await graph.checkBatch(nchw ? [batch, channels, height, width] : x.shape);
        return tf.tidy(() => graph.predict(nchw ? tf.transpose(x, [0, 3, 1, 2]) : x));
      },
      dispose: () => Promise.resolve(graph.dispose()),
    },
    shape,
  };
}
