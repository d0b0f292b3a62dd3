/**
 * The command line's dispatch: the usage text, one function per command, and how errors are
 * printed: a user's mistake or a bad file as one line without a stack trace, with exit code
 * 2 for usage errors and 1 for everything else.
 *
 * @example
 * ```ts
 * import { main } from "./main.ts";
 * console.log(await main(["info", "cifar_resnet20.cifar10"])); // (the entry as JSON, then) 0
 * ```
 *
 * @module
 */

import { type Args, parseArgv, UsageError } from "./args.ts";
import { classify } from "./classify.ts";
import { convert } from "./convert.ts";
import { predict } from "./predict.ts";
import { list } from "./list.ts";
import { info } from "./info.ts";
import { pull } from "./pull.ts";
import { bench } from "./bench.ts";
import { ZooFormatError } from "../arch/errors.ts";

const USAGE = `denozoo: pretrained ResNets for Deno

Usage:
  cli.ts classify IMAGE… [--model ID|FILE] [--top 5] [--json|--json-array] [--batch 16]
                 [--engine auto|tfjs|onnxruntime] [--backend auto|webgpu|wasm|cpu]
                 [--preprocess TORCHVISION_V1|TORCHVISION_V2|KERAS_CAFFE|KERAS_TF|CIFAR10_TORCH|CIFAR10_RAW]
                 [--labels imagenet|cifar10]
  cli.ts convert SRC --out FILE.safetensors|FILE.onnx|FOLDER [--arch auto|NAME] [--verify]
  cli.ts predict --weights FILE --input X.npy --output Y.npy [--input-layout nchw|nhwc] [--batch 16]
                 [--engine auto|tfjs|onnxruntime] [--backend …]
  cli.ts list [--json]
  cli.ts info ID
  cli.ts pull ID [--verify]
  cli.ts bench --model NAME|ID|FILE [--engine tfjs|onnxruntime|auto|all] [--backend …] [--batch 1] [--runs 10] [--json]

--threads N sets the wasm backend's threads (1 to 8; default one per core when the model runs
on tfjs).

--json prints one JSON object per image and line, as each batch finishes; --json-array one
array at the end. A file that cannot be read or decoded is named on stderr, the others are
classified, and the exit code is then 1.

IMAGE may be a file, a directory or a glob. Without --model, classify uses the bundled
CIFAR-10 ResNet-20. Weights files: .safetensors (zoo), .onnx, .pth/.pt/.th, Keras .h5/.keras, model.json.`;

const COMMANDS: Record<string, (args: Args) => Promise<void> | void> = {
  classify,
  convert,
  predict,
  list,
  info,
  pull,
  bench,
};

/**
 * Runs the CLI with the given arguments; returns the exit code.
 *
 * @example
 * ```ts
 * console.log(await main(["frobnicate"])); // (the usage on stderr, then) 2
 * ```
 */
export async function main(argv: string[]): Promise<number> {
  const args = parseArgv(argv);
  const command = String(args._[0] ?? "");
  if (args.help || !command) {
    console.log(USAGE);
    return command || args.help ? 0 : 2;
  }
  const run = COMMANDS[command];
  if (!run) {
    console.error(`denozoo: unknown command '${command}'\n\n${USAGE}`);
    return 2;
  }
  try {
    await run(args);
    return 0;
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
      console.error(`denozoo: ${(error as Error).message}`);
      return 1;
    }
    if (
      error instanceof UsageError || error instanceof ZooFormatError ||
      error instanceof Deno.errors.NotFound
    ) {
      console.error(`denozoo: ${(error as Error).message}`);
      return error instanceof UsageError ? 2 : 1;
    }
    console.error(`denozoo: ${(error as Error).message ?? error}`);
    return 1;
  }
}
