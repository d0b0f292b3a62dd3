/**
 * Whether an imported model computes what its source computes: both run one input, and their
 * logits are compared by the largest absolute difference, that difference relative to the
 * largest reference logit, and how many rows pick the same class. `convert` checks an import
 * this way against its source wherever the source runs: an ONNX file in onnxruntime, a Keras
 * model as its own graph.
 *
 * @example
 * ```ts
 * import { compareLogits, parityHolds } from "./parity.ts";
 * const parity = compareLogits(new Float32Array([1, 3, 2, 0]), new Float32Array([1, 3, 2.00001, 0]), 1);
 * console.log(parity.top1Agreement, parityHolds(parity)); // 1 true
 * ```
 *
 * @module
 */

import { readOnnx } from "../formats/onnx.ts";
import * as tf from "@tensorflow/tfjs-core";
import { defaultInputSize, type ResNetSpec } from "../arch/spec.ts";
import { createModel, type ZooModel } from "./model.ts";
import { createOrtSession } from "./ort.ts";
import type { Engine } from "./engine.ts";

/** How closely two runs of a classifier agree on one batch. */
export interface Parity {
  /** The largest absolute difference between corresponding logits. */
  maxAbsDiff: number;
  /** {@link Parity.maxAbsDiff} over the largest absolute reference logit. */
  relativeError: number;
  /** Rows whose largest logit is at the same class in both runs. */
  top1Agreement: number;
  /** Rows compared. */
  batch: number;
}

/**
 * The relative error up to which float32 runs of the same network count as equal: the
 * summation order of convolutions differs between engines, not the result.
 */
export const PARITY_TOLERANCE = 1e-4;

/**
 * Compares a batch of logits with reference logits of the same shape, `batch` rows of classes
 * each, row-major.
 *
 * @example
 * ```ts
 * const got = new Float32Array([0, 1, 1, 0]);
 * const expected = new Float32Array([0, 1, 0, 1]);
 * console.log(compareLogits(got, expected, 2));
 * // { maxAbsDiff: 1, relativeError: 1, top1Agreement: 1, batch: 2 }
 * ```
 */
export function compareLogits(got: Float32Array, expected: Float32Array, batch: number): Parity {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < got.length; i++) {
    diff = Math.max(diff, Math.abs(got[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  const classes = got.length / batch;
  const argmax = (a: Float32Array, n: number) => {
    const row = a.subarray(n * classes, (n + 1) * classes);
    return row.indexOf(Math.max(...row));
  };
  let agree = 0;
  for (let n = 0; n < batch; n++) if (argmax(got, n) === argmax(expected, n)) agree++;
  return { maxAbsDiff: diff, relativeError: diff / scale, top1Agreement: agree, batch };
}

/**
 * Whether a comparison passes: every row agrees on its class, and the relative error is
 * within `tolerance`.
 *
 * @example
 * ```ts
 * const parity = { maxAbsDiff: 0.5, relativeError: 0.05, top1Agreement: 2, batch: 2 };
 * console.log(parityHolds(parity), parityHolds(parity, 0.1)); // false true
 * ```
 */
export function parityHolds(parity: Parity, tolerance: number = PARITY_TOLERANCE): boolean {
  return parity.top1Agreement === parity.batch && !(parity.relativeError > tolerance);
}

/**
 * A source that can run: the input its file declares (symbolic dimensions as strings or
 * null) in its own layout, and its output on a batch.
 */
export interface ReferenceRun {
  /** What runs the source, for messages (`onnxruntime`, `its own graph on tfjs`). */
  name: string;
  /** The layout of the source's input. */
  layout: "nchw" | "nhwc";
  /** The input shape the file declares. */
  declared: readonly (number | string | null)[];
  /** The source's output for a float32 batch of `shape`, row-major. */
  run(input: Float32Array, shape: number[]): Promise<Float32Array>;
  /** Frees what runs the source, once the comparison is done. */
  dispose?(): Promise<void> | void;
}

/**
 * The small input a verification runs: the declared shape with every symbolic dimension filled
 * in, one image at the spec's input size.
 *
 * @example
 * ```ts
 * import { getSpec } from "../arch/presets.ts";
 * console.log(verificationShape(getSpec("cifar_resnet20"), "nhwc", ["N", null, null, 3])); // [ 1, 32, 32, 3 ]
 * ```
 */
export function verificationShape(
  spec: ResNetSpec,
  layout: "nchw" | "nhwc",
  declared: readonly (number | string | null)[],
): number[] {
  const size = defaultInputSize(spec);
  const fallback = layout === "nchw" ? [1, 3, size, size] : [1, size, size, 3];
  return fallback.map((d, i) => {
    const dim = declared[i];
    return typeof dim === "number" && dim > 0 ? dim : d;
  });
}

/**
 * Runs a source and the model imported from it on one seeded random input of the source's
 * declared shape, and compares their logits. The model runs on `engine` when one is given (an
 * NHWC batch, as every engine takes: onnxruntime on the model's ONNX export checks the graph a
 * deployment runs), else on the active tfjs backend in the source's layout.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { importFile } from "../convert/import.ts";
 * import { createModel } from "./model.ts";
 * import { useBackend } from "./backend.ts";
 * await useBackend("cpu");
 * const path = "testdata/fixtures/nets/tv_basic.onnx";
 * const { spec, weights } = await importFile(path);
 * const model = createModel(spec, { weights });
 * // The model against itself, as a stand-in for the source.
 * const self = createModel(spec, { weights, dataFormat: "channels_first" });
 * const parity = await verifyImport(model, {
 *   name: "the zoo model",
 *   layout: "nchw",
 *   declared: [2, 3, 64, 64],
 *   run: async (x, shape) => (await self.predict(tf.tensor4d(x, shape as [number, number, number, number])).data()) as Float32Array,
 * });
 * console.log(parity.top1Agreement, parity.batch); // 2 2
 * ```
 */
export async function verifyImport(
  model: ZooModel,
  reference: ReferenceRun,
  engine?: Engine,
): Promise<Parity> {
  const shape = verificationShape(model.spec, reference.layout, reference.declared);
  const x = tf.randomNormal(shape, 0, 1, "float32", 1);
  const input = (await x.data()) as Float32Array;
  const expected = await reference.run(input, shape);
  const got = engine
    ? await engineLogits(engine, x as tf.Tensor4D, reference.layout)
    : await tfjsLogits(model, x as tf.Tensor4D, reference.layout);
  x.dispose();
  return compareLogits(got, expected, shape[0]);
}

/**
 * The model's logits on the active tfjs backend, built in the source's layout so that no
 * transpose stands between the two runs.
 */
async function tfjsLogits(
  model: ZooModel,
  x: tf.Tensor4D,
  layout: "nchw" | "nhwc",
): Promise<Float32Array> {
  const dataFormat = layout === "nchw" ? "channels_first" : "channels_last";
  const zoo = createModel(model.spec, { weights: model.weights, dataFormat });
  const y = zoo.predict(x);
  const got = (await y.data()) as Float32Array;
  y.dispose();
  zoo.dispose();
  return got;
}

/** An engine's logits: engines take NHWC, so an NCHW input is transposed (exactly) first. */
async function engineLogits(
  engine: Engine,
  x: tf.Tensor4D,
  layout: "nchw" | "nhwc",
): Promise<Float32Array> {
  const nhwc = layout === "nchw" ? tf.transpose(x, [0, 2, 3, 1]) : x;
  const y = await engine.predict(nhwc);
  const got = (await y.data()) as Float32Array;
  if (nhwc !== x) nhwc.dispose();
  y.dispose();
  return got;
}

/**
 * Runs an ONNX source file in onnxruntime and the model imported from it, as
 * {@link verifyImport} does; an NHWC source (a graph transposed at its entry, as tf2onnx writes
 * Keras models) gets an NHWC input. onnxruntime opens the source from its path, so it also finds
 * external data beside it.
 *
 * @example
 * ```ts
 * import { importFile } from "../convert/import.ts";
 * import { createModel } from "./model.ts";
 * import { useBackend } from "./backend.ts";
 * await useBackend("cpu");
 * const path = "testdata/fixtures/checkpoints/nhwc_resnet.onnx";
 * const { spec, weights, sourceLayout } = await importFile(path);
 * const parity = await verifyOnnxImport(await Deno.readFile(path), path, createModel(spec, { weights }), sourceLayout);
 * console.log(sourceLayout, parityHolds(parity)); // nhwc true
 * ```
 */
export async function verifyOnnxImport(
  bytes: Uint8Array,
  source: string,
  model: ZooModel,
  layout: "nchw" | "nhwc" = "nchw",
): Promise<Parity> {
  const declared = (await readOnnx(bytes, source)).graph.inputs[0]?.shape ?? [];
  const session = await createOrtSession(source);
  try {
    return await verifyImport(model, {
      name: "onnxruntime",
      layout,
      declared,
      run: async (input, shape) => (await session.run(input, shape)).data,
    });
  } finally {
    await session.dispose();
  }
}
