/**
 * Image classification on top of a zoo model: preprocessing as the weights expect,
 * a forward pass, softmax and labelled top-k.
 *
 * @example
 * ```ts
 * import { loadClassifier } from "./load.ts";
 * import { classifyFiles } from "./classify.ts";
 * const classifier = await loadClassifier();
 * const [result] = await classifyFiles(classifier, ["testdata/images/cat.jpg"], { top: 3 });
 * console.log(result.predictions[0].label); // "cat"
 * await classifier.engine.dispose();
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import type { Tensor2D } from "../runtime/tensor.ts";
import type { Engine } from "../runtime/engine.ts";
import type { PreprocessSpec } from "../arch/preprocess.ts";
import type { Tensor4D } from "../runtime/tensor.ts";
import { preprocessImages, scaleImages } from "../vision/preprocess.ts";
import { decodeForModel } from "../vision/decode.ts";
import { decodeAhead, type DecodedInput } from "../vision/decode_pool.ts";
import type { RgbImage } from "../vision/rgb_image.ts";

/**
 * A model with what it takes to turn images into labels.
 *
 * @example
 * ```ts
 * import { type Classifier, classifyFiles } from "./classify.ts";
 * import { loadClassifier } from "./load.ts";
 * const classifier: Classifier = await loadClassifier();
 * console.log(classifier.labels.length, classifier.preprocess.mode); // 10 torch
 * const [result] = await classifyFiles(classifier, ["testdata/images/cat.jpg"], { top: 1 });
 * console.log(result.predictions[0].label); // cat
 * await classifier.engine.dispose();
 * ```
 */
export interface Classifier {
  /** Where the weights came from (registry id or file). */
  name: string;
  /** The network on its engine; takes NHWC batches. */
  engine: Engine;
  /** Preprocessing the weights were trained with. */
  preprocess: PreprocessSpec;
  /** Class names, by output index. */
  labels: readonly string[];
  /**
   * What a user should know about how the weights were read: what the file could not tell and
   * a convention supplied (option-A shortcuts of a state dict, say), or why the network runs as
   * its own graph. Empty or absent when there is nothing to say.
   */
  warnings?: string[];
}

/**
 * One labelled class score.
 *
 * @example
 * ```ts
 * import { classifyFiles, type Prediction } from "./classify.ts";
 * import { loadClassifier } from "./load.ts";
 * const classifier = await loadClassifier();
 * const [result] = await classifyFiles(classifier, ["testdata/images/cat.jpg"]);
 * const best: Prediction = result.predictions[0];
 * console.log(best.index, best.label); // 3 cat
 * await classifier.engine.dispose();
 * ```
 */
export interface Prediction {
  /** Output index. */
  index: number;
  /** Class name. */
  label: string;
  /** Softmax probability. */
  probability: number;
}

/**
 * Predictions for one image.
 *
 * @example
 * ```ts
 * import { classifyFiles, type ImageResult } from "./classify.ts";
 * import { loadClassifier } from "./load.ts";
 * const classifier = await loadClassifier();
 * const results: ImageResult[] = await classifyFiles(classifier, ["testdata/images/cat.jpg"]);
 * console.log(results[0].image, results[0].predictions.length); // testdata/images/cat.jpg 5
 * await classifier.engine.dispose();
 * ```
 */
export interface ImageResult {
  /** The image's path (or a caller's label for in-memory images). */
  image: string;
  /** Best classes first. */
  predictions: Prediction[];
}

/**
 * Top-k labelled predictions for a batch of logits.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { useBackend } from "../runtime/backend.ts";
 * await useBackend("cpu");
 * const [best] = await topK(tf.tensor2d([[0, 3, 1]]), 1, ["a", "b", "c"]);
 * console.log(best[0].label); // "b"
 * ```
 */
export async function topK(
  logits: Tensor2D,
  k: number,
  labels: readonly string[],
): Promise<Prediction[][]> {
  const { values, indices } = tf.tidy(() =>
    tf.topk(tf.softmax(logits), Math.min(k, logits.shape[1]))
  );
  // Asynchronous reads: WebGPU cannot read back synchronously in Deno.
  const p = (await values.array()) as number[][];
  const idx = (await indices.array()) as number[][];
  tf.dispose([values, indices]);
  return idx.map((row, n) =>
    row.map((index, j) => ({ index, label: labels[index] ?? String(index), probability: p[n][j] }))
  );
}

/**
 * Classifies decoded images in one batch.
 *
 * @example
 * ```ts
 * import { loadClassifier } from "./load.ts";
 * import { decodeImage } from "../vision/decode.ts";
 * const path = "testdata/images/cat.jpg";
 * const image = await decodeImage(await Deno.readFile(path), path);
 * const classifier = await loadClassifier();
 * const [predictions] = await classifyImages(classifier, [image], 1);
 * console.log(predictions[0].label); // "cat"
 * await classifier.engine.dispose();
 * ```
 */
export async function classifyImages(
  classifier: Classifier,
  images: RgbImage[],
  top = 5,
): Promise<Prediction[][]> {
  return await classifyBatch(classifier, preprocessImages(images, classifier.preprocess), top);
}

/** Runs a preprocessed batch (disposed here) and labels its top classes. */
async function classifyBatch(
  classifier: Classifier,
  x: Tensor4D,
  top: number,
): Promise<Prediction[][]> {
  const logits = (await classifier.engine.predict(x)) as Tensor2D;
  x.dispose();
  const result = await topK(logits, top, classifier.labels);
  logits.dispose();
  return result;
}

/**
 * Options of {@link classifyFiles}.
 *
 * @example
 * ```ts
 * import { classifyFiles, type ClassifyOptions } from "./classify.ts";
 * import { loadClassifier } from "./load.ts";
 * const classifier = await loadClassifier();
 * const options: ClassifyOptions = { top: 2, batch: 8 };
 * const [result] = await classifyFiles(classifier, ["testdata/images/cat.jpg"], options);
 * console.log(result.predictions.length); // 2
 * await classifier.engine.dispose();
 * ```
 */
export interface ClassifyOptions {
  /** How many classes per image (default 5). */
  top?: number;
  /** Images per forward pass (default 16). */
  batch?: number;
  /** Called with each batch's results as soon as they are ready. */
  onBatch?: (results: ImageResult[], done: number, total: number) => void;
}

/**
 * Decodes, batches and classifies image files, streaming results batch by batch. Beyond one
 * batch, files decode in a worker while the model runs (see `decodeAhead`).
 *
 * @example
 * ```ts
 * import { loadClassifier } from "./load.ts";
 * const classifier = await loadClassifier();
 * const results = await classifyFiles(classifier, ["testdata/images/cat.jpg"], {
 *   top: 1,
 *   onBatch: (_, done, total) => console.log(`${done}/${total}`), // "1/1"
 * });
 * console.log(results[0].image, results[0].predictions[0].label); // testdata/images/cat.jpg cat
 * await classifier.engine.dispose();
 * ```
 */
export async function classifyFiles(
  classifier: Classifier,
  paths: string[],
  options: ClassifyOptions = {},
): Promise<ImageResult[]> {
  const batch = Math.max(1, options.batch ?? 16);
  const results: ImageResult[] = [];
  let chunk: RgbImage[] = [];
  const flush = async () => {
    const { width, height } = chunk[0];
    const shape: [number, number, number, number] = [chunk.length, height, width, 3];
    const x = tf.tensor4d(scaleImages(chunk, classifier.preprocess), shape);
    const predictions = await classifyBatch(classifier, x, options.top ?? 5);
    const batchResults = predictions.map((p, i) => ({
      image: paths[results.length + i],
      predictions: p,
    }));
    results.push(...batchResults);
    chunk = [];
    options.onBatch?.(batchResults, results.length, paths.length);
  };
  for await (const item of decodedInputs(paths, classifier.preprocess, batch)) {
    // A worker's failure comes as its message, which names the file.
    if ("error" in item) throw new Error(item.error);
    chunk.push(item.image);
    if (chunk.length === batch) await flush();
  }
  if (chunk.length) await flush();
  return results;
}

/**
 * Each file decoded straight to the model's input size (`decodeForModel`), in input order. One
 * batch's worth decodes here, all at once; more decode in a worker, two batches ahead of the one
 * being classified, so that decoding goes on while onnxruntime holds this thread.
 */
async function* decodedInputs(
  paths: string[],
  spec: PreprocessSpec,
  batch: number,
): AsyncGenerator<DecodedInput> {
  if (paths.length > batch) {
    yield* decodeAhead(paths, spec, { ahead: 2 * batch });
    return;
  }
  yield* await Promise.all(
    paths.map(async (path) => ({
      path,
      image: await decodeForModel(await Deno.readFile(path), path, spec),
    })),
  );
}
