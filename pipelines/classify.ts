/**
 * Image classification on top of a zoo model: preprocessing as the weights expect, a forward
 * pass, softmax (unless the model ends in one) and labelled top-k. Files stream through in
 * batches: a file that cannot be read or decoded becomes a result with an `error`, never a lost
 * batch, and results arrive in input order as their batch finishes.
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
import { preprocessImages, scaleImages } from "../vision/preprocess.ts";
import { planCrop } from "../vision/geometry.ts";
import { resizeAndCrop } from "../vision/resample.ts";
import type { RgbImage } from "../vision/rgb_image.ts";
import type { GraphOutputs } from "../graph/graph_model.ts";
import { BatchTooLargeError, isOutOfMemory } from "../runtime/input_check.ts";
import {
  type DecodedFile,
  decodeFiles,
  decodeInWorkers,
  type DecodeStage,
} from "./decode_stage.ts";
import type { Tensor4D } from "../runtime/tensor.ts";

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
   * What the model outputs: `logits` (default) are softmaxed into probabilities;
   * `probabilities` (a graph that ends in a softmax) are reported as they are.
   */
  outputs?: GraphOutputs;
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
  /** Probability: the softmax of the model's logits, or its own softmax output. */
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
  /** Best classes first; empty when the image failed. */
  predictions: Prediction[];
  /** Why the file could not be classified (a message that starts with its path). */
  error?: string;
}

/**
 * Top-k labelled predictions for a batch of logits (or of probabilities, which are not
 * softmaxed again).
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
  outputs: GraphOutputs = "logits",
): Promise<Prediction[][]> {
  const { values, indices } = tf.tidy(() =>
    tf.topk(outputs === "probabilities" ? logits : tf.softmax(logits), Math.min(k, logits.shape[1]))
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
 * Options of {@link classifyImages}.
 *
 * @example
 * ```ts
 * import type { ClassifyImagesOptions } from "./classify.ts";
 * const options: ClassifyImagesOptions = { top: 3 };
 * console.log(options.top); // 3
 * ```
 */
export interface ClassifyImagesOptions {
  /** How many classes per image (default 5). */
  top?: number;
}

/**
 * Classifies decoded images in one batch.
 *
 * @throws {TypeError} When `options` is not an options object.
 * @throws {RangeError} When `top` is not a positive integer.
 *
 * @example
 * ```ts
 * import { loadClassifier } from "./load.ts";
 * import { decodeImage } from "../vision/decode.ts";
 * const path = "testdata/images/cat.jpg";
 * const image = await decodeImage(await Deno.readFile(path), path);
 * const classifier = await loadClassifier();
 * const [predictions] = await classifyImages(classifier, [image], { top: 1 });
 * console.log(predictions[0].label); // "cat"
 * await classifier.engine.dispose();
 * ```
 */
export async function classifyImages(
  classifier: Classifier,
  images: RgbImage[],
  options: ClassifyImagesOptions = {},
): Promise<Prediction[][]> {
  checkOptions("classifyImages", options);
  const x = preprocessImages(images, classifier.preprocess);
  return await classifyBatch(classifier, x, options.top ?? 5);
}

/** Runs a preprocessed batch (disposed here) and labels its top classes. */
async function classifyBatch(
  classifier: Classifier,
  x: Tensor4D,
  top: number,
): Promise<Prediction[][]> {
  const count = x.shape[0];
  let logits: Tensor2D;
  try {
    logits = (await classifier.engine.predict(x)) as Tensor2D;
  } catch (error) {
    // Refused before it ran: the heap is intact, and the refusal knows the batch that fits.
    if (error instanceof BatchTooLargeError) {
      x.dispose();
      throw new Error(
        `a batch of ${count} images would run ${classifier.engine.name} out of memory: ` +
          `lower the batch size (--batch, or the batch option) to at most ${error.maxBatch}`,
      );
    }
    if (!isOutOfMemory(error)) {
      x.dispose();
      throw error;
    }
    // Nothing is disposed: a wasm heap that ran out is no longer usable.
    throw new Error(
      `out of memory running a batch of ${count} images on ${classifier.engine.name}: ` +
        `lower the batch size (--batch, or the batch option) below ${count}`,
    );
  }
  x.dispose();
  const result = await topK(logits, top, classifier.labels, classifier.outputs);
  logits.dispose();
  return result;
}

/**
 * Options of {@link classifyFiles} and {@link classifyStream}.
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
export interface ClassifyOptions extends ClassifyImagesOptions {
  /** Images per forward pass (default 16); memory grows with it, not with the file count. */
  batch?: number;
  /** Called with each batch's results, failures included, in input order, as soon as they are ready. */
  onBatch?: (results: ImageResult[], done: number, total: number) => void;
  /**
   * How files become model inputs. Default: beyond one batch, {@link decodeInWorkers} (a
   * worker decodes two batches ahead while the model runs); else {@link decodeFiles} (here,
   * one file at a time).
   */
  decode?: DecodeStage;
}

/** Refuses options that are not an options object, or whose counts are not positive integers. */
function checkOptions(fn: string, options: ClassifyOptions): void {
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw new TypeError(
      `${fn} takes an options object such as { top: 5 }, got ${JSON.stringify(options)}`,
    );
  }
  for (const name of ["top", "batch"] as const) {
    const value = options[name];
    if (value !== undefined && !(Number.isInteger(value) && value >= 1)) {
      throw new RangeError(
        `${fn}: ${name} must be a positive integer, got ${JSON.stringify(value)}`,
      );
    }
  }
}

/** The loop under {@link classifyStream}: each batch's results, failures in their places. */
async function* classifyBatches(
  classifier: Classifier,
  paths: readonly string[],
  options: ClassifyOptions,
): AsyncGenerator<ImageResult[]> {
  const batch = options.batch ?? 16;
  const spec = classifier.preprocess;
  const filter = spec.interpolation;
  let pending: DecodedFile[] = [];
  let images = 0;
  const flush = async (): Promise<ImageResult[]> => {
    // Model inputs as they are; a stage's whole images resized and cropped here.
    const inputs = pending.flatMap((file) =>
      "input" in file
        ? [file.input]
        : "image" in file
        ? [resizeAndCrop(file.image, planCrop(file.image.width, file.image.height, spec), filter)]
        : []
    );
    let predictions: Prediction[][] = [];
    if (inputs.length) {
      const { width, height } = inputs[0];
      const shape: [number, number, number, number] = [inputs.length, height, width, 3];
      predictions = await classifyBatch(
        classifier,
        tf.tensor4d(scaleImages(inputs, spec), shape),
        options.top ?? 5,
      );
    }
    let next = 0;
    const results = pending.map((file): ImageResult =>
      "error" in file
        ? { image: file.path, predictions: [], error: file.error }
        : { image: file.path, predictions: predictions[next++] }
    );
    pending = [];
    images = 0;
    return results;
  };
  const stage = options.decode ??
    (paths.length > batch ? decodeInWorkers({ ahead: 2 * batch }) : decodeFiles);
  for await (const file of stage(paths, spec)) {
    pending.push(file);
    if (!("error" in file) && ++images === batch) yield await flush();
  }
  if (pending.length) yield await flush();
}

/**
 * Classifies image files batch by batch, yielding one result per path in input order as its
 * batch finishes. A file that cannot be read or decoded yields a result with an `error` (the
 * others are classified all the same); the images held at once are one batch. An error of
 * the model itself (out of memory, say) ends the stream.
 *
 * @example
 * ```ts
 * import { loadClassifier } from "./load.ts";
 * const classifier = await loadClassifier();
 * for await (const result of classifyStream(classifier, ["testdata/images/cat.jpg", "nope.jpg"], { top: 1 })) {
 *   console.log(result.image, result.error ?? result.predictions[0].label);
 * }
 * // testdata/images/cat.jpg cat
 * // nope.jpg nope.jpg: No such file or directory (os error 2): readfile 'nope.jpg'
 * await classifier.engine.dispose();
 * ```
 */
export async function* classifyStream(
  classifier: Classifier,
  paths: readonly string[],
  options: ClassifyOptions = {},
): AsyncGenerator<ImageResult> {
  checkOptions("classifyStream", options);
  for await (const results of classifyBatches(classifier, paths, options)) yield* results;
}

/**
 * Decodes, batches and classifies image files: one result per path, in input order, a file
 * that cannot be read or decoded being a result with an `error`. `onBatch` sees each batch's
 * results as soon as they are ready.
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
  checkOptions("classifyFiles", options);
  const all: ImageResult[] = [];
  for await (const results of classifyBatches(classifier, paths, options)) {
    all.push(...results);
    options.onBatch?.(results, all.length, paths.length);
  }
  return all;
}
