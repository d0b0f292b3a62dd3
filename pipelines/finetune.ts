/**
 * A classifier of one's own from a folder of images (torchvision's ImageFolder layout) and a
 * pretrained backbone: the backbone stays frozen, every image's embedding is computed once on
 * the fastest engine, and a new dense classifier is trained on them (softmax cross-entropy,
 * Adam, early stopping on a validation split). Optionally the last stages are fine-tuned on
 * the images afterwards, on a backend that has the gradients. The result is an ordinary zoo
 * model: backbone + new classifier, with the class names and the backbone's preprocessing.
 *
 * @example
 * ```ts
 * import { useBackend } from "../runtime/backend.ts";
 * import { finetune } from "./finetune.ts";
 * await useBackend("wasm");
 * const dir = await Deno.makeTempDir();
 * for (const [name, file] of [["cats", "cat.jpg"], ["people", "grace_hopper.jpg"]]) {
 *   await Deno.mkdir(`${dir}/${name}`);
 *   await Deno.copyFile(`testdata/images/${file}`, `${dir}/${name}/${file}`);
 * }
 * const result = await finetune(dir, { val: 0, epochs: 20 });
 * console.log(result.classes, result.spec.classes, result.history.at(-1)?.trainAccuracy); // [ "cats", "people" ] 2 1
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import type { ResNetSpec } from "../arch/spec.ts";
import type { WeightMap } from "../arch/weights.ts";
import { type ZooFileInfo, zooWeightsChunks } from "../convert/zoofile.ts";
import type { FileChunk } from "../formats/files.ts";
import type { EngineChoice } from "../runtime/engine.ts";
import { createEngine } from "../runtime/engine.ts";
import { createModel as buildModel } from "../runtime/model.ts";
import { type EpochStats, trainHead } from "../runtime/head.ts";
import { type ImageBatches, trainingProblem, trainLastStages } from "../runtime/training.ts";
import { preprocessImages } from "../vision/preprocess.ts";
import { decodeImage } from "../vision/decode.ts";
import type { WeightsEntry } from "../hub/registry.ts";
import { BUNDLED_ID } from "./bundled.ts";
import { createModel } from "./create.ts";
import { type EmbedFailure, embedFiles } from "./embed.ts";
import { readImageFolder, type Sample, splitSamples } from "./image_folder.ts";

/**
 * Options of {@link finetune}.
 *
 * @example
 * ```ts
 * import type { FinetuneOptions } from "./finetune.ts";
 * const options: FinetuneOptions = { model: "resnet50", epochs: 30, val: 0.2, seed: 1 };
 * console.log(options.unfreeze); // undefined: the backbone stays frozen
 * ```
 */
export interface FinetuneOptions {
  /** The backbone: registry id, architecture (its default weights) or file; default the bundled model. */
  model?: string;
  /** The most epochs of the classifier's training (default 30). */
  epochs?: number;
  /** Fraction of each class kept for validation and early stopping (default 0.2; 0: none). */
  val?: number;
  /** Seed of the split, the new classifier's initial weights and the batch order (default 0). */
  seed?: number;
  /** Adam's learning rate for the classifier (default 0.01). */
  learningRate?: number;
  /** Epochs without a better validation loss before stopping (default 5). */
  patience?: number;
  /** Images per batch (default 32). */
  batch?: number;
  /** Engine of the embeddings (default `auto`: the fastest). */
  engine?: EngineChoice;
  /**
   * Fine-tune this many of the last stages on the images after the classifier (default 0).
   * Runs on the active tfjs backend, which must have the gradients (cpu, or WebGPU on a GPU;
   * not wasm, which lacks `Conv2DBackpropFilter`).
   */
  unfreeze?: number;
  /** Epochs of that fine-tuning (default 3). */
  unfreezeEpochs?: number;
  /** Where ids are looked up (default: the built-in `REGISTRY`). */
  registry?: readonly WeightsEntry[];
  /** Draw a download progress bar on stderr. */
  progress?: boolean;
  /** Called as images are embedded: done and total. */
  onEmbedded?: (done: number, total: number) => void;
  /** Called for an image that cannot be read or decoded; it is left out. */
  onSkip?: (failure: EmbedFailure) => void;
  /** Called after each epoch, of the classifier (`head`) or of the unfrozen stages (`stages`). */
  onEpoch?: (stats: EpochStats, phase: "head" | "stages") => void;
}

/**
 * A trained classifier and how the training went.
 *
 * @example
 * ```ts
 * import type { FinetuneResult } from "./finetune.ts";
 * const summary = (r: FinetuneResult) => `${r.classes.join("/")}: ${r.train} + ${r.val} images`;
 * console.log(typeof summary); // function
 * ```
 */
export interface FinetuneResult {
  /** The class names, by output index. */
  classes: string[];
  /** The architecture, with the new number of classes. */
  spec: ResNetSpec;
  /** Backbone and new classifier, zoo layout. */
  weights: WeightMap;
  /** What the zoo file records: preprocessing, class names, the backbone's name. */
  info: ZooFileInfo;
  /** Images used of each class (trained or validated on), by class index. */
  images: number[];
  /** Images trained on. */
  train: number;
  /** Images validated on. */
  val: number;
  /** Images left out, and why. */
  skipped: EmbedFailure[];
  /** The classifier's epochs. */
  history: EpochStats[];
  /** The epoch whose classifier was kept. */
  bestEpoch: number;
  /** The unfrozen stages' epochs (empty without `unfreeze`). */
  stageHistory: EpochStats[];
  /** The engine that computed the embeddings. */
  engine: string;
}

/** Samples whose images embedded, as feature rows and labels. */
function rowsOf(samples: Sample[], row: Map<string, number>, features: Float32Array, dims: number) {
  const kept = samples.filter((s) => row.has(s.path));
  const x = new Float32Array(kept.length * dims);
  kept.forEach((s, i) =>
    x.set(features.subarray(row.get(s.path)! * dims, (row.get(s.path)! + 1) * dims), i * dims)
  );
  return { kept, x, labels: kept.map((s) => s.label) };
}

/**
 * Trains a classifier for the class folders of `dir` on a pretrained backbone.
 *
 * @throws {Error} For a folder that is not an ImageFolder (no class folders, one class, a class
 *   without images), a class whose every image failed to decode, or `unfreeze` on a backend
 *   without the gradients.
 */
export async function finetune(
  dir: string,
  options: FinetuneOptions = {},
): Promise<FinetuneResult> {
  const folder = await readImageFolder(dir);
  const unfreeze = options.unfreeze ?? 0;
  if (unfreeze > 0) {
    const problem = trainingProblem();
    if (problem) throw new Error(`--unfreeze: ${problem}`);
  }
  const seed = options.seed ?? 0;
  const source = options.model ?? BUNDLED_ID;
  const backbone = await createModel(source, {
    pretrained: true,
    includeTop: false,
    pooling: "avg",
    progress: options.progress,
    registry: options.registry,
  });
  const engine = await createEngine(backbone, options.engine ?? "auto");
  const preprocess = backbone.preprocess!;
  const dims = backbone.plan.blocks.at(-1)!.channels;
  const embedded = await embedFiles(
    { name: source, engine, preprocess, dimensions: dims },
    folder.samples.map((s) => s.path),
    { batch: options.batch, onBatch: options.onEmbedded, onError: options.onSkip },
  );
  await engine.dispose();
  const row = new Map(embedded.files.map((file, i) => [file, i]));
  folder.classes.forEach((name, label) => {
    if (!folder.samples.some((s) => s.label === label && row.has(s.path))) {
      throw new Error(`${dir}/${name}: none of class '${name}''s images could be read`);
    }
  });
  const split = splitSamples(
    folder.samples.filter((s) => row.has(s.path)),
    options.val ?? 0.2,
    seed,
  );
  const train = rowsOf(split.train, row, embedded.data, dims);
  const val = rowsOf(split.val, row, embedded.data, dims);

  const classes = folder.classes.length;
  // The new classifier starts from the seeded initial weights `createModel` gives it.
  const model = buildModel(backbone.spec, { weights: backbone.weights, classes, seed });
  const dense = backbone.spec.naming.dense;
  const head = await trainHead(train, val.kept.length ? val : undefined, {
    dimensions: dims,
    classes,
    epochs: options.epochs,
    batch: options.batch,
    learningRate: options.learningRate,
    patience: options.patience,
    seed,
    initial: {
      kernel: model.weights.get(`${dense}/kernel`)!.data,
      bias: model.weights.get(`${dense}/bias`)!.data,
    },
    onEpoch: (stats) => options.onEpoch?.(stats, "head"),
  });
  const weights: WeightMap = new Map(backbone.weights);
  weights.set(`${dense}/kernel`, { shape: [dims, classes], data: head.kernel });
  weights.set(`${dense}/bias`, { shape: [classes], data: head.bias });
  const tuned = buildModel(backbone.spec, { weights, classes });
  let stageHistory: EpochStats[] = [];
  if (unfreeze > 0) {
    const batches = (samples: Sample[]): ImageBatches => ({
      labels: samples.map((s) => s.label),
      async images(rows) {
        const images = await Promise.all(
          rows.map(async (r) => decodeImage(await Deno.readFile(samples[r].path), samples[r].path)),
        );
        return tf.tidy(() => preprocessImages(images, preprocess));
      },
    });
    stageHistory = await trainLastStages(tuned, batches(train.kept), {
      stages: unfreeze,
      epochs: options.unfreezeEpochs,
      batch: options.batch,
      seed,
      val: val.kept.length ? batches(val.kept) : undefined,
      onEpoch: (stats) => options.onEpoch?.(stats, "stages"),
    });
  }
  const result: FinetuneResult = {
    classes: folder.classes,
    spec: tuned.spec,
    weights: tuned.weights,
    info: { preprocess, labels: folder.classes, source },
    images: folder.classes.map((_, label) =>
      [...train.kept, ...val.kept].filter((s) => s.label === label).length
    ),
    train: train.kept.length,
    val: val.kept.length,
    skipped: embedded.failures,
    history: head.history,
    bestEpoch: head.bestEpoch,
    stageHistory,
    engine: engine.name,
  };
  tuned.dispose();
  return result;
}

/**
 * The zoo file of a fine-tuned classifier, as chunks to write in order (see `writeAtomically`):
 * `classify --model` prints its class names, `convert` exports it.
 *
 * @example
 * ```ts
 * import { readZooHeader } from "../convert/zoofile.ts";
 * import { writeAtomically } from "../formats/files.ts";
 * import { useBackend } from "../runtime/backend.ts";
 * await useBackend("wasm");
 * const dir = await Deno.makeTempDir();
 * for (const [name, file] of [["cats", "cat.jpg"], ["people", "grace_hopper.jpg"]]) {
 *   await Deno.mkdir(`${dir}/${name}`);
 *   await Deno.copyFile(`testdata/images/${file}`, `${dir}/${name}/${file}`);
 * }
 * await writeAtomically(`${dir}/mine.safetensors`, finetunedZooFile(await finetune(dir, { val: 0 })));
 * console.log((await readZooHeader(`${dir}/mine.safetensors`)).labels); // [ "cats", "people" ]
 * ```
 */
export function finetunedZooFile(result: FinetuneResult): FileChunk[] {
  return zooWeightsChunks(result.spec, result.weights, result.info);
}
