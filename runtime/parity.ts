/**
 * Whether an imported model computes what its source computes: both run one input, and their
 * logits are compared by the largest absolute difference, that difference relative to the
 * largest reference logit, and how many rows pick the same class. `convert --verify` checks an
 * ONNX import against onnxruntime running the source file this way.
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
import { defaultInputSize } from "../arch/spec.ts";
import { createModel, type ZooModel } from "./model.ts";
import { createEngine, type EngineChoice } from "./engine.ts";
import { createOrtSession } from "./ort.ts";

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
 * Runs an ONNX source file in onnxruntime and the model imported from it on the engine `choice`
 * names (default: tfjs on the active backend; `onnxruntime` runs the zoo's own ONNX export of
 * it), on one random input of the source's declared shape (symbolic dimensions filled in with
 * one image at the spec's input size), and compares their logits. onnxruntime opens the source
 * from its path, so it also finds external data beside it.
 *
 * @example
 * ```ts
 * import { importFile } from "../convert/import.ts";
 * import { createModel } from "./model.ts";
 * import { useBackend } from "./backend.ts";
 * await useBackend("cpu");
 * const path = "testdata/fixtures/nets/tv_basic.onnx";
 * const { spec, weights } = await importFile(path);
 * const parity = await verifyOnnxImport(await Deno.readFile(path), path, createModel(spec, { weights }));
 * console.log(parityHolds(parity)); // true
 * ```
 */
export async function verifyOnnxImport(
  bytes: Uint8Array,
  source: string,
  model: ZooModel,
  choice: EngineChoice = "tfjs",
): Promise<Parity> {
  const declared = (await readOnnx(bytes, source)).graph.inputs[0]?.shape ?? [];
  const size = defaultInputSize(model.spec);
  const shape = [1, 3, size, size].map((fallback, i) =>
    typeof declared[i] === "number" ? declared[i] as number : fallback
  );
  const x = tf.randomNormal(shape, 0, 1, "float32", 1);
  const input = (await x.data()) as Float32Array;
  const session = await createOrtSession(source);
  const expected = (await session.run(input, shape)).data;
  await session.dispose();
  // Engines take NHWC, whatever layout the model given was made for.
  const nhwcModel = createModel(model.spec, { weights: model.weights });
  const engine = await createEngine(nhwcModel, choice);
  const nhwc = tf.transpose(x, [0, 2, 3, 1]) as tf.Tensor4D;
  const y = await engine.predict(nhwc);
  const got = (await y.data()) as Float32Array;
  await engine.dispose();
  nhwcModel.dispose();
  tf.dispose([x, nhwc, y]);
  return compareLogits(got, expected, shape[0]);
}
