/**
 * Image embeddings: the pooled penultimate features of a pretrained ResNet (what its
 * classifier reads; timm's `forward_head(pre_logits=True)`, Keras' `include_top=False,
 * pooling="avg"`), one vector per image, for search, clustering or a classifier of one's own.
 * Files that cannot be read or decoded are skipped and reported, not fatal.
 *
 * @example
 * ```ts
 * import { embedFiles, loadEmbedder } from "./embed.ts";
 * const embedder = await loadEmbedder(); // the bundled CIFAR-10 ResNet-20: 64 features
 * const result = await embedFiles(embedder, ["testdata/images/cat.jpg", "testdata/images/grace_hopper.jpg"]);
 * console.log(result.files.length, result.dimensions, result.data.length); // 2 64 128
 * await embedder.engine.dispose();
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import type { PreprocessSpec } from "../arch/preprocess.ts";
import { createEngine, type Engine, type EngineChoice } from "../runtime/engine.ts";
import { preprocessImages } from "../vision/preprocess.ts";
import { decodeImage } from "../vision/decode.ts";
import type { RgbImage } from "../vision/rgb_image.ts";
import type { WeightsEntry } from "../hub/registry.ts";
import { BUNDLED_ID } from "./bundled.ts";
import { createModel } from "./create.ts";

/**
 * A backbone on its engine, with the preprocessing its weights expect.
 *
 * @example
 * ```ts
 * import { type Embedder, loadEmbedder } from "./embed.ts";
 * const embedder: Embedder = await loadEmbedder("cifar_resnet20.cifar10", { engine: "tfjs" });
 * console.log(embedder.name, embedder.dimensions, embedder.engine.name.startsWith("tfjs")); // cifar_resnet20.cifar10 64 true
 * ```
 */
export interface Embedder {
  /** The model's name as given (registry id, architecture or file). */
  name: string;
  /** Maps an NHWC batch to its pooled features `[N, dimensions]`. */
  engine: Engine;
  /** Preprocessing the weights were trained with. */
  preprocess: PreprocessSpec;
  /** Features per image: the channels of the last stage. */
  dimensions: number;
}

/**
 * Options of {@link loadEmbedder}.
 *
 * @example
 * ```ts
 * import { type EmbedderOptions, loadEmbedder } from "./embed.ts";
 * const options: EmbedderOptions = { engine: "onnxruntime" };
 * console.log((await loadEmbedder(undefined, options)).engine.name); // onnxruntime
 * ```
 */
export interface EmbedderOptions {
  /** Engine to run on (default `auto`: the fastest that loads here). */
  engine?: EngineChoice;
  /** Draw a download progress bar on stderr. */
  progress?: boolean;
  /** Preprocessing, overriding what the weights record. */
  preprocess?: PreprocessSpec;
  /** Where ids are looked up (default: the built-in `REGISTRY`). */
  registry?: readonly WeightsEntry[];
}

/**
 * Loads a pretrained backbone for embeddings: a registry id, an architecture (its default
 * weights), a zoo-ResNet weights file, or by default the bundled CIFAR-10 ResNet-20.
 *
 * @example
 * ```ts
 * const embedder = await loadEmbedder("testdata/cifar10-resnet/resnet20-12fca82f.th");
 * console.log(embedder.dimensions, embedder.preprocess.size); // 64 [ 32, 32 ]
 * await embedder.engine.dispose();
 * ```
 */
export async function loadEmbedder(
  source: string = BUNDLED_ID,
  options: EmbedderOptions = {},
): Promise<Embedder> {
  // A backend must be ready before any tensor exists; keep one the caller chose.
  await tf.ready();
  const model = await createModel(source, {
    pretrained: true,
    includeTop: false,
    pooling: "avg",
    progress: options.progress,
    registry: options.registry,
  });
  return {
    name: source,
    engine: await createEngine(model, options.engine ?? "auto"),
    preprocess: options.preprocess ?? model.preprocess!,
    dimensions: model.plan.blocks.at(-1)!.channels,
  };
}

/**
 * The embeddings of decoded images in one batch: `[images.length, dimensions]`, row-major.
 *
 * @example
 * ```ts
 * import { decodeImage } from "../vision/decode.ts";
 * const path = "testdata/images/cat.jpg";
 * const embedder = await loadEmbedder();
 * const rows = await embedImages(embedder, [await decodeImage(await Deno.readFile(path), path)]);
 * console.log(rows.length); // 64
 * await embedder.engine.dispose();
 * ```
 */
export async function embedImages(embedder: Embedder, images: RgbImage[]): Promise<Float32Array> {
  if (images.length === 0) return new Float32Array(0);
  const x = preprocessImages(images, embedder.preprocess);
  const features = await embedder.engine.predict(x);
  x.dispose();
  const data = (await features.data()) as Float32Array;
  features.dispose();
  return data;
}

/** A file that could not be embedded, and why. */
export interface EmbedFailure {
  /** The file's path. */
  path: string;
  /** What went wrong, as one line. */
  error: string;
}

/**
 * Options of {@link embedFiles}.
 *
 * @example
 * ```ts
 * import { embedFiles, type EmbedFilesOptions, loadEmbedder } from "./embed.ts";
 * const options: EmbedFilesOptions = { batch: 8, onError: (f) => console.error(f.path, f.error) };
 * const result = await embedFiles(await loadEmbedder(), ["testdata/images/cat.jpg"], options);
 * console.log(result.files); // [ "testdata/images/cat.jpg" ]
 * ```
 */
export interface EmbedFilesOptions {
  /** Images per forward pass (default 32). */
  batch?: number;
  /** Called after each batch with the files done (embedded or skipped) so far. */
  onBatch?: (done: number, total: number) => void;
  /** Called for each file that cannot be read or decoded, which is then skipped. */
  onError?: (failure: EmbedFailure) => void;
}

/**
 * Embeddings of image files, in input order.
 *
 * @example
 * ```ts
 * import { embedFiles, type FileEmbeddings, loadEmbedder } from "./embed.ts";
 * const result: FileEmbeddings = await embedFiles(await loadEmbedder(), ["testdata/images/cat.jpg", "missing.jpg"]);
 * console.log(result.files, result.failures.length); // [ "testdata/images/cat.jpg" ] 1
 * ```
 */
export interface FileEmbeddings {
  /** The files embedded, in input order: row i of `data` is `files[i]`. */
  files: string[];
  /** `[files.length, dimensions]`, row-major. */
  data: Float32Array;
  /** Features per image. */
  dimensions: number;
  /** The files skipped, in input order. */
  failures: EmbedFailure[];
}

/**
 * Reads, decodes and embeds image files batch by batch. A file that cannot be read or decoded
 * is skipped, reported to `onError` and listed in `failures`; the rest keep their input order.
 *
 * @example
 * ```ts
 * const embedder = await loadEmbedder();
 * const { data, failures } = await embedFiles(embedder, ["testdata/images/cat.jpg", "README.md"]);
 * console.log(data.length, failures[0].path); // 64 README.md
 * await embedder.engine.dispose();
 * ```
 */
export async function embedFiles(
  embedder: Embedder,
  paths: string[],
  options: EmbedFilesOptions = {},
): Promise<FileEmbeddings> {
  const batch = Math.max(1, options.batch ?? 32);
  const files: string[] = [];
  const failures: EmbedFailure[] = [];
  const rows: Float32Array[] = [];
  for (let start = 0; start < paths.length; start += batch) {
    const chunk = paths.slice(start, start + batch);
    const decoded = await Promise.all(chunk.map(async (path) => {
      try {
        return await decodeImage(await Deno.readFile(path), path);
      } catch (error) {
        return { path, error: (error as Error).message ?? String(error) };
      }
    }));
    const images: RgbImage[] = [];
    decoded.forEach((result, i) => {
      if ("error" in result) {
        failures.push(result);
        options.onError?.(result);
      } else {
        images.push(result);
        files.push(chunk[i]);
      }
    });
    rows.push(await embedImages(embedder, images));
    options.onBatch?.(Math.min(start + batch, paths.length), paths.length);
  }
  const data = new Float32Array(files.length * embedder.dimensions);
  let offset = 0;
  for (const block of rows) {
    data.set(block, offset);
    offset += block.length;
  }
  return { files, data, dimensions: embedder.dimensions, failures };
}
