/**
 * The first stage of classifying files: paths in, model inputs out, one entry per path in input
 * order, a file that cannot be read or decoded being an entry with the reason instead of an
 * exception that would end the run. `classifyStream` takes any {@link DecodeStage}: here, one
 * that decodes on the calling thread ({@link decodeFiles}) and one that decodes in a worker,
 * batches ahead, while onnxruntime holds the calling thread ({@link decodeInWorkers}).
 *
 * @example
 * ```ts
 * import { TORCHVISION_V1 } from "../arch/preprocess.ts";
 * import { decodeFiles } from "./decode_stage.ts";
 * for await (const file of decodeFiles(["testdata/images/cat.jpg", "missing.jpg"], TORCHVISION_V1)) {
 *   console.log(file.path, "input" in file ? file.input.width : "error" in file && file.error);
 * }
 * // testdata/images/cat.jpg 224
 * // missing.jpg missing.jpg: No such file or directory (os error 2): readfile 'missing.jpg'
 * ```
 *
 * @module
 */

import { messageOf } from "../arch/errors.ts";
import type { PreprocessSpec } from "../arch/preprocess.ts";
import { decodeForModel } from "../vision/decode.ts";
import { decodeAhead, type DecodeAheadOptions } from "../vision/decode_pool.ts";
import type { RgbImage } from "../vision/rgb_image.ts";

/**
 * One input file after decoding: the model's input (resized and cropped as the weights'
 * preprocessing says, see `decodeForModel`), or the whole image for the classifier to resize, or
 * why there is none (a message that starts with the path).
 *
 * @example
 * ```ts
 * import type { DecodedFile } from "./decode_stage.ts";
 * const failed: DecodedFile = { path: "x.jpg", error: "x.jpg: invalid JPEG image: premature end" };
 * console.log("error" in failed); // true
 * ```
 */
export type DecodedFile =
  | { path: string; input: RgbImage }
  | { path: string; image: RgbImage }
  | { path: string; error: string };

/**
 * Turns paths into decoded files for a preprocessing, yielding exactly one entry per path, in
 * input order. It may decode ahead of what was asked for, as long as what it holds stays
 * bounded.
 *
 * @example
 * ```ts
 * import { CIFAR10_TORCH } from "../arch/preprocess.ts";
 * import { type DecodeStage, decodeFiles } from "./decode_stage.ts";
 * const stage: DecodeStage = decodeFiles;
 * for await (const file of stage(["testdata/images/cat.jpg"], CIFAR10_TORCH)) console.log(file.path); // testdata/images/cat.jpg
 * ```
 */
export type DecodeStage = (
  paths: readonly string[],
  preprocess: PreprocessSpec,
) => AsyncIterable<DecodedFile>;

/**
 * A failure's message, starting with the path it concerns (Deno's OS errors end with it, the
 * decoders' `ZooFormatError`s start with it).
 *
 * @example
 * ```ts
 * console.log(fileFailure("a.jpg", new Error("a.jpg: truncated"))); // a.jpg: truncated
 * console.log(fileFailure("a.jpg", new Error("Is a directory (os error 21)"))); // a.jpg: Is a directory (os error 21)
 * ```
 */
export function fileFailure(path: string, error: unknown): string {
  const message = messageOf(error);
  return message.startsWith(path) ? message : `${path}: ${message}`;
}

/**
 * Reads and decodes each file to the model's input in turn, on the calling thread, when the loop
 * asks for it: at most one input is held beyond the batch being assembled.
 *
 * @example
 * ```ts
 * import { CIFAR10_TORCH } from "../arch/preprocess.ts";
 * const files = [];
 * for await (const file of decodeFiles(["testdata/images/cat.jpg"], CIFAR10_TORCH)) files.push(file);
 * console.log(files.length, "input" in files[0]); // 1 true
 * ```
 */
export async function* decodeFiles(
  paths: readonly string[],
  preprocess: PreprocessSpec,
): AsyncGenerator<DecodedFile> {
  for (const path of paths) {
    let decoded: DecodedFile;
    try {
      decoded = { path, input: await decodeForModel(await Deno.readFile(path), path, preprocess) };
    } catch (error) {
      decoded = { path, error: fileFailure(path, error) };
    }
    yield decoded;
  }
}

/**
 * A stage that decodes in workers (`decodeAhead`): up to `ahead` files are decoded or wait
 * decoded while the model runs, since onnxruntime's forward pass holds the calling thread. Its
 * workers start in about 0.3 s, so it pays beyond one batch.
 *
 * @example
 * ```ts
 * import { TORCHVISION_V2 } from "../arch/preprocess.ts";
 * const stage = decodeInWorkers({ ahead: 4 });
 * for await (const file of stage(["testdata/images/cat.jpg"], TORCHVISION_V2)) {
 *   console.log("input" in file ? file.input.width : "error" in file && file.error); // 224
 * }
 * ```
 */
export function decodeInWorkers(options: DecodeAheadOptions = {}): DecodeStage {
  return async function* (paths, preprocess) {
    for await (const item of decodeAhead(paths, preprocess, options)) {
      yield "image" in item
        ? { path: item.path, input: item.image }
        : { path: item.path, error: fileFailure(item.path, new Error(item.error)) };
    }
  };
}
