/**
 * `finetune DIR --out MODEL.safetensors [--model ID|NAME|FILE] [--epochs 30] [--val 0.2]
 * [--seed 0] [--unfreeze STAGES] [--unfreeze-epochs 3] [--batch 32] [--engine …] [--backend …]`:
 * a classifier for the class folders of DIR (torchvision's ImageFolder layout) on a frozen
 * pretrained backbone, written as a zoo file with the class names, which `classify --model`
 * and `convert` take like any other. Prints one line per epoch; images that cannot be decoded
 * are named on stderr and left out.
 *
 * @example
 * ```ts
 * import { finetune } from "./finetune.ts";
 * import { parseArgv } from "./args.ts";
 * const dir = await Deno.makeTempDir();
 * for (const [name, file] of [["cats", "cat.jpg"], ["people", "grace_hopper.jpg"]]) {
 *   await Deno.mkdir(`${dir}/${name}`);
 *   await Deno.copyFile(`testdata/images/${file}`, `${dir}/${name}/${file}`);
 * }
 * await finetune(parseArgv(["finetune", dir, "--out", `${dir}/mine.safetensors`, "--val", "0", "--epochs", "2"]));
 * // epoch 1/2  train loss … acc …
 * // …
 * // classes: cats (1), people (1); 2 images trained on, 0 validated on; embeddings in … s (onnxruntime)
 * // wrote …/mine.safetensors: cifar_resnet20 with a new classifier for 2 classes
 * ```
 *
 * @module
 */

import { type Args, backend, engine, option, positiveInt, UsageError } from "./args.ts";
import { finetune as train, finetunedZooFile } from "../pipelines/finetune.ts";
import type { EpochStats } from "../runtime/head.ts";
import { hardwareGpuAvailable } from "../runtime/backend.ts";
import { prefersOrt } from "../runtime/engine.ts";
import { writeAtomically } from "../formats/files.ts";

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
 * import { parseArgv } from "./args.ts";
 * await finetune(parseArgv(["finetune", "testdata/images", "--out", "x.safetensors"])).catch((e) => console.log(e.message));
 * // testdata/images: no class folders (finetune reads testdata/images/<class name>/<images>: torchvision's ImageFolder layout)
 * ```
 */
export async function finetune(args: Args): Promise<void> {
  const dirs = args._.slice(1).map(String);
  if (dirs.length !== 1) {
    throw new UsageError("finetune needs one folder: DIR/<class name>/<images>");
  }
  const out = option(args, "out");
  if (!/\.safetensors$/i.test(out)) {
    throw new UsageError(`--out must name a .safetensors file, got '${out}'`);
  }
  const epochs = positiveInt(args, "epochs", 30);
  const batch = positiveInt(args, "batch", 32);
  const unfreeze = args.unfreeze === undefined ? 0 : positiveInt(args, "unfreeze", 1);
  const unfreezeEpochs = positiveInt(args, "unfreeze-epochs", 3);
  const val = args.val === undefined ? 0.2 : Number(args.val);
  if (!(val >= 0 && val < 1)) {
    throw new UsageError(`--val must be a fraction from 0 up to 1, got '${args.val}'`);
  }
  const seed = args.seed === undefined ? 0 : Number(args.seed);
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new UsageError(`--seed must be a whole number of at least 0, got '${args.seed}'`);
  }
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
  const result = await train(dirs[0], {
    model: args.model,
    epochs,
    val,
    seed,
    batch,
    unfreeze,
    unfreezeEpochs,
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
