/**
 * Engines that run a zoo model: tfjs (WebGPU, wasm or cpu) or onnxruntime-node, fed
 * the same weights through an in-memory ONNX export. `auto` picks the fastest that
 * loads here: tfjs-webgpu on a hardware GPU, else onnxruntime, else tfjs-wasm.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { useBackend } from "./backend.ts";
 * import { createModel } from "./model.ts";
 * import { createEngine } from "./engine.ts";
 * await useBackend("wasm");
 * const engine = await createEngine(createModel("cifar_resnet20"), "auto");
 * const logits = await engine.predict(tf.zeros([1, 32, 32, 3]));
 * console.log(engine.name, logits.shape); // onnxruntime [ 1, 10 ] (where its addon loads)
 * await engine.dispose();
 * ```
 *
 * @module
 */

import { exportOnnx } from "../convert/onnx_export.ts";
import { defaultInputSize } from "../arch/spec.ts";
import * as tf from "@tensorflow/tfjs-core";
import type { Tensor, Tensor4D } from "./tensor.ts";
import type { ZooModel } from "./model.ts";
import { hardwareGpuAvailable, tfjsEngineName, useBackend } from "./backend.ts";
import { createOrtSession, ortAvailable, type OrtSessionOptions } from "./ort.ts";
import type { Calibration } from "../convert/quantize.ts";

/**
 * How an engine is made: onnxruntime's session options, and for int8 weights their calibration.
 *
 * @example
 * ```ts
 * import type { EngineOptions } from "./engine.ts";
 * const options: EngineOptions = { threads: 2, optimization: "extended" };
 * console.log(options.calibration); // undefined: float32 on onnxruntime
 * ```
 */
export interface EngineOptions extends OrtSessionOptions {
  /**
   * Activation ranges of an int8 zoo file: onnxruntime then runs the network as an int8 (QDQ)
   * graph. tfjs engines compute in float32 regardless.
   */
  calibration?: Calibration;
}

/**
 * Which engine to run on.
 *
 * @example
 * ```ts
 * import { createModel } from "./model.ts";
 * import { useBackend } from "./backend.ts";
 * import { createEngine, type EngineChoice } from "./engine.ts";
 * await useBackend("wasm");
 * const choice: EngineChoice = "tfjs";
 * const engine = await createEngine(createModel("cifar_resnet20"), choice);
 * console.log(engine.name); // tfjs-wasm
 * ```
 */
export type EngineChoice = "auto" | "tfjs" | "onnxruntime";

/**
 * Anything that maps an NHWC image batch to logits (or features).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { createModel } from "./model.ts";
 * import { useBackend } from "./backend.ts";
 * import { createEngine, type Engine } from "./engine.ts";
 * await useBackend("wasm");
 * const engine: Engine = await createEngine(createModel("cifar_resnet20"));
 * const logits = await engine.predict(tf.zeros([2, 32, 32, 3]));
 * console.log(logits.shape); // [ 2, 10 ]
 * await engine.dispose();
 * ```
 */
export interface Engine {
  /** Engine and backend, e.g. `tfjs-wasm` or `onnxruntime`. */
  readonly name: string;
  /** Runs a channels_last batch; the caller disposes the result. */
  predict(x: Tensor4D): Promise<Tensor>;
  /** Frees the engine (not the zoo model it came from). */
  dispose(): Promise<void>;
}

/**
 * The tfjs engine over a zoo model's folded inference path.
 *
 * @example
 * ```ts
 * import { useBackend } from "./backend.ts";
 * import { createModel } from "./model.ts";
 * await useBackend("cpu");
 * const engine = tfjsEngine(createModel("cifar_resnet20"));
 * console.log(engine.name); // tfjs-cpu
 * ```
 */
export function tfjsEngine(model: ZooModel): Engine {
  if (tf.getBackend() === "webgpu") {
    // Compile every shader once at load: WebGPU caches pipelines per shape, so later
    // calls of the same size reuse them (about 17 s for ResNet-50 on a software adapter).
    const size = defaultInputSize(model.spec);
    tf.tidy(() => {
      model.predict(tf.zeros([1, size, size, 3]));
    });
  }
  return {
    name: tfjsEngineName(),
    predict: (x) => Promise.resolve(model.predict(x)),
    dispose: () => Promise.resolve(),
  };
}

/**
 * Exports the model to ONNX in memory (NCHW input, BN folded; int8 QDQ with a calibration) and
 * opens it in onnxruntime.
 *
 * @example
 * ```ts
 * import { useBackend } from "./backend.ts";
 * import { createModel } from "./model.ts";
 * await useBackend("wasm");
 * const engine = await ortEngine(createModel("cifar_resnet20"));
 * console.log(engine.name); // onnxruntime
 * await engine.dispose();
 * ```
 */
export async function ortEngine(
  model: ZooModel,
  options: EngineOptions = {},
): Promise<Engine> {
  const { calibration, ...sessionOptions } = options;
  return await ortEngineFromOnnx(
    await exportOnnx(model.plan, model.weights, { layout: "nchw", calibration }),
    sessionOptions,
    "nchw",
    calibration ? "onnxruntime (int8)" : "onnxruntime",
  );
}

/**
 * Opens an NCHW-input ONNX export (as `exportOnnx` writes by default), given as bytes or a
 * path, in onnxruntime. Batches arrive NHWC and are transposed on the tfjs backend: ORT's
 * NCHW kernels run about 15 % faster than an export with a Transpose at its entry. A graph
 * that declares an NHWC input (`layout: "nhwc"`, as tf2onnx writes Keras models) gets the
 * batch as it is. `name` is the engine's name as reported (`onnxruntime (int8)` for an int8
 * graph).
 *
 * @example
 * ```ts
 * import { useBackend } from "./backend.ts";
 * await useBackend("wasm");
 * const engine = await ortEngineFromOnnx("testdata/fixtures/nets/tv_basic.onnx");
 * console.log(engine.name); // onnxruntime
 * await engine.dispose();
 * ```
 */
export async function ortEngineFromOnnx(
  onnx: Uint8Array | string,
  options: OrtSessionOptions = {},
  layout: "nchw" | "nhwc" = "nchw",
  name = "onnxruntime",
): Promise<Engine> {
  const session = await createOrtSession(onnx, options);
  return {
    name,
    async predict(x) {
      // The batch arrives NHWC; a graph that declares NCHW (PyTorch's exports) gets it transposed.
      const input = layout === "nchw" ? tf.transpose(x, [0, 3, 1, 2]) : x;
      const data = (await input.data()) as Float32Array;
      const out = await session.run(data, input.shape);
      if (input !== x) input.dispose();
      return tf.tensor(out.data, out.shape);
    },
    dispose: () => session.dispose(),
  };
}

/**
 * Whether a choice resolves to onnxruntime here (forced, or `auto` without a hardware GPU).
 *
 * @example
 * ```ts
 * console.log(await prefersOrt("tfjs")); // false
 * ```
 */
export async function prefersOrt(choice: EngineChoice): Promise<boolean> {
  if (choice === "tfjs") return false;
  if (choice === "auto" && await hardwareGpuAvailable()) return false;
  return choice === "onnxruntime" || await ortAvailable();
}

/**
 * Which engine a choice runs on here: `auto` takes tfjs on a hardware GPU (activating WebGPU),
 * else onnxruntime when its addon loads, else tfjs on the active backend. A forced
 * onnxruntime that cannot load is an error.
 *
 * @example
 * ```ts
 * console.log(await resolveEngine("tfjs")); // tfjs
 * ```
 */
export async function resolveEngine(choice: EngineChoice): Promise<"tfjs" | "onnxruntime"> {
  if (choice === "tfjs") return "tfjs";
  if (choice === "auto" && await hardwareGpuAvailable()) {
    await useBackend("webgpu");
    return "tfjs";
  }
  if (await ortAvailable()) return "onnxruntime";
  if (choice === "onnxruntime") {
    throw new Error(
      "engine 'onnxruntime' is not available: npm:onnxruntime-node could not load (it needs --allow-ffi)",
    );
  }
  return "tfjs";
}

/**
 * Creates the engine a choice names; `auto` prefers a hardware GPU, then onnxruntime,
 * then tfjs on the best backend available. A forced engine that cannot load is an error.
 *
 * @example
 * ```ts
 * import { useBackend } from "./backend.ts";
 * import { createModel } from "./model.ts";
 * await useBackend("wasm");
 * const engine = await createEngine(createModel("resnet18"), "tfjs");
 * console.log(engine.name); // tfjs-wasm
 * ```
 */
export async function createEngine(
  model: ZooModel,
  choice: EngineChoice = "auto",
  ortOptions: EngineOptions = {},
): Promise<Engine> {
  return await resolveEngine(choice) === "onnxruntime"
    ? await ortEngine(model, ortOptions)
    : tfjsEngine(model);
}
