/**
 * `finetune DIR --out MODEL.safetensors [--model NAME] [--epochs 30] [--val 0.2]
 * [--seed 0] [--unfreeze STAGES] [--unfreeze-epochs 3] [--batch 32] [--engine …] [--backend …]`:
 * a classifier for the class folders of DIR (torchvision's ImageFolder layout) on a frozen
 * pretrained backbone, written as a zoo file with the class names, which `classify --model`
 * and `convert` take like any other. Prints one line per epoch; images that cannot be decoded
 * are named on stderr and left out.
 *
 * @example
 * ```ts
 * import { finetune, FINETUNE } from "./finetune.ts";
 * import { parseCommand } from "./args.ts";
 * const dir = await Deno.makeTempDir();
 * for (const [name, file] of [["cats", "cat.jpg"], ["people", "grace_hopper.jpg"]]) {
 *   await Deno.mkdir(`${dir}/${name}`);
 *   await Deno.copyFile(`testdata/images/${file}`, `${dir}/${name}/${file}`);
 * }
 * await finetune(parseCommand(FINETUNE, [dir, "--out", `${dir}/mine.safetensors`, "--val", "0", "--epochs", "2"]));
 * // epoch 1/2  train loss … acc …
 * // …
 * // classes: cats (1), people (1); 2 images trained on, 0 validated on; embeddings in … s (onnxruntime)
 * // wrote …/mine.safetensors: cifar_resnet20 with a new classifier for 2 classes
 * ```
 *
 * @module
 */

import { backend, engine, outputFolderExists, UsageError } from "./args.ts";
import {
  type Args,
  BACKEND_FLAG,
  CACHE_ENVIRONMENT,
  type CommandSpec,
  ENGINE_FLAG,
  MODEL_MEANING,
  THREADS_FLAG,
} from "./flags.ts";
import { finetune as train, finetunedZooFile } from "../pipelines/finetune.ts";
import type { EpochStats } from "../runtime/head.ts";
import { hardwareGpuAvailable } from "../runtime/backend.ts";
import { prefersOrt } from "../runtime/engine.ts";
import { writeAtomically } from "../formats/files.ts";

/**
 * `finetune` on the command line: operands, flags, examples, environment.
 *
 * @example
 * ```ts
 * import { FINETUNE } from "./finetune.ts";
 * console.log(FINETUNE.flags.find((f) => f.name === "epochs")?.default); // 30
 * ```
 */
export const FINETUNE = {
  name: "finetune",
  brief: "train a classifier for your own image folders",
  summary: "Train a classifier for the class folders of DIR (DIR/<class name>/*.jpg, " +
    "torchvision's ImageFolder layout) on a frozen pretrained backbone: every image's " +
    "embedding is computed once on the fastest engine, then a new dense classifier is " +
    "trained on them (softmax cross-entropy, Adam, early stopping on a validation split), one " +
    "line per epoch. The result is a zoo file with the class names and the backbone's " +
    "preprocessing, which classify --model and convert take like any other. Images that " +
    "cannot be decoded are named on stderr and left out.",
  operands: {
    name: "DIR",
    meaning: "a folder with one folder of images per class (at least two)",
    min: 1,
    max: 1,
  },
  flags: [
    {
      name: "out",
      kind: "string",
      aliases: ["o"],
      value: "MODEL.safetensors",
      required: true,
      meaning: "the zoo file to write (its folder must exist)",
    },
    {
      name: "model",
      kind: "string",
      aliases: ["m"],
      value: "NAME",
      defaultText: "the bundled CIFAR-10 ResNet-20 (cifar_resnet20.cifar10)",
      meaning: `the backbone: ${MODEL_MEANING}; a zoo ResNet`,
    },
    {
      name: "epochs",
      kind: "integer",
      value: "N",
      min: 1,
      default: 30,
      meaning: "the most epochs of the classifier's training",
    },
    {
      name: "val",
      kind: "string",
      value: "FRACTION",
      default: "0.2",
      meaning: "the part of each class kept for validation and early stopping (0: none)",
    },
    {
      name: "seed",
      kind: "integer",
      value: "N",
      min: 0,
      default: 0,
      meaning: "seed of the split, the new classifier's weights and the batch order",
    },
    {
      name: "batch",
      kind: "integer",
      value: "N",
      min: 1,
      default: 32,
      meaning: "images (and embeddings) per batch",
    },
    {
      name: "unfreeze",
      kind: "integer",
      value: "STAGES",
      min: 1,
      defaultText: "none: the backbone stays frozen",
      meaning: "afterwards, fine-tune this many of the last stages on the images, on tfjs: " +
        "cpu (or webgpu on a GPU; wasm lacks the gradients); slow on cpu",
    },
    {
      name: "unfreeze-epochs",
      kind: "integer",
      value: "N",
      min: 1,
      default: 3,
      meaning: "epochs of that fine-tuning",
    },
    ENGINE_FLAG,
    { ...BACKEND_FLAG, defaultText: `${BACKEND_FLAG.defaultText}; cpu with --unfreeze` },
    THREADS_FLAG,
  ],
  examples: [
    "denozoo finetune photos/ --out mine.safetensors              # photos/cats/…, photos/dogs/…",
    "denozoo classify new.jpg --model mine.safetensors            # prints cats or dogs",
    "denozoo finetune photos/ --model resnet50 --out mine.safetensors --epochs 50 --val 0.1",
  ],
  env: CACHE_ENVIRONMENT,
} as const satisfies CommandSpec;

/** One epoch as a line: `epoch  3/30  train loss 0.2103 acc 93.25%  val loss … acc …`. */
function epochLine(stats: EpochStats, label: string): string {
  const percent = (x: number) => `${(x * 100).toFixed(2).padStart(6)}%`;
  const width = String(stats.epochs).length;
  let line = `${label} ${String(stats.epoch).padStart(width)}/${stats.epochs}  ` +
    `train loss ${stats.trainLoss.toFixed(4)} acc ${percent(stats.trainAccuracy)}`;
  if (stats.valLoss !== undefined) {
    line += `  val loss ${stats.valLoss.toFixed(4)} acc ${percent(stats.valAccuracy!)}`;
  }
  return line;
}

/** A progress bar on stderr: `[#########-----------]  160/500 images`. */
function progressBar(done: number, total: number): string {
  const filled = Math.round((done / total) * 30);
  return `\r[${"#".repeat(filled)}${"-".repeat(30 - filled)}] ${done}/${total} images`;
}

/**
 * Runs `finetune`.
 *
 * @example
 * ```ts
 * import { parseCommand } from "./args.ts";
 * await finetune(parseCommand(FINETUNE, ["testdata/images", "--out", "x.safetensors"])).catch((e) => console.log(e.message));
 * // testdata/images: no class folders (finetune reads testdata/images/<class name>/<images>: torchvision's ImageFolder layout)
 * ```
 */
export async function finetune(args: Args<typeof FINETUNE>): Promise<void> {
  const out = args.out;
  if (!/\.safetensors$/i.test(out)) {
    throw new UsageError(`--out must name a .safetensors file, got '${out}'`);
  }
  await outputFolderExists(out, "out");
  const val = Number(args.val);
  if (!(args.val.trim() !== "" && val >= 0 && val < 1)) {
    throw new UsageError(`--val must be a fraction from 0 up to 1, got '${args.val}'`);
  }
  const unfreeze = args.unfreeze ?? 0;
  // Unfrozen stages train on tfjs, which needs the gradients: cpu, or WebGPU on a GPU.
  const trainsOnTfjs = unfreeze > 0;
  const chosen = trainsOnTfjs && args.backend === undefined
    ? { ...args, backend: (await hardwareGpuAvailable()) ? "webgpu" : "cpu" }
    : args;
  await backend(chosen, trainsOnTfjs || !(await prefersOrt(engine(args))));
  const showProgress = Deno.stderr.isTerminal();
  const write = (text: string) => Deno.stderr.writeSync(new TextEncoder().encode(text));
  const started = performance.now();
  let embeddedAt = 0;
  const result = await train(args.operands[0], {
    model: args.model,
    epochs: args.epochs,
    val,
    seed: args.seed,
    batch: args.batch,
    unfreeze,
    unfreezeEpochs: args["unfreeze-epochs"],
    engine: engine(args),
    progress: true,
    onEmbedded: (done, total) => {
      if (showProgress) write(progressBar(done, total));
      if (done === total) {
        if (showProgress) write("\n");
        embeddedAt = performance.now();
      }
    },
    onSkip: ({ path, error }) => {
      if (showProgress) write("\r\x1b[K");
      console.error(
        `denozoo: skipped ${error.startsWith(path) ? error : `${path}: ${error}`} (left out)`,
      );
    },
    onEpoch: (stats, phase) => console.log(epochLine(stats, phase === "head" ? "epoch" : "stages")),
  });
  const seconds = ((embeddedAt - started) / 1000).toFixed(1);
  const classes = result.classes.map((name, label) => `${name} (${result.images[label]})`);
  console.log(
    `classes: ${classes.join(", ")}; ${result.train} images trained on, ${result.val} ` +
      `validated on; embeddings in ${seconds} s (${result.engine})`,
  );
  const best = result.history[result.bestEpoch - 1];
  console.log(
    `kept epoch ${result.bestEpoch}` +
      (best.valAccuracy !== undefined
        ? ` (val loss ${best.valLoss!.toFixed(4)}, acc ${(best.valAccuracy * 100).toFixed(2)}%)`
        : ""),
  );
  await writeAtomically(out, finetunedZooFile(result));
  console.log(
    `wrote ${out}: ${result.spec.name} with a new classifier for ${result.classes.length} classes` +
      (result.skipped.length ? ` (${result.skipped.length} images skipped)` : ""),
  );
}
