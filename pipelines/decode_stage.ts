/**
 * The first stage of classifying files: paths in, decoded images out, one entry per path in
 * input order, a file that cannot be read or decoded being an entry with the reason instead of
 * an exception that would end the run. `classifyStream` takes any {@link DecodeStage}, so a
 * stage that decodes ahead (a worker pool, a native library's threads) replaces this one without
 * touching the loop that batches and classifies.
 *
 * @example
 * ```ts
 * import { decodeFiles } from "./decode_stage.ts";
 * for await (const file of decodeFiles(["testdata/images/cat.jpg", "missing.jpg"])) {
 *   console.log(file.path, "image" in file ? file.image.width : file.error);
 * }
 * // testdata/images/cat.jpg 480
 * // missing.jpg missing.jpg: No such file or directory (os error 2): readfile 'missing.jpg'
 * ```
 *
 * @module
 */

import { messageOf } from "../arch/errors.ts";
import { decodeImage } from "../vision/decode.ts";
import type { RgbImage } from "../vision/rgb_image.ts";

/**
 * One input file after decoding: its image, or why there is none (a message that starts with
 * the path).
 *
 * @example
 * ```ts
 * import type { DecodedFile } from "./decode_stage.ts";
 * const failed: DecodedFile = { path: "x.jpg", error: "x.jpg: invalid JPEG: marker was not found" };
 * console.log("error" in failed); // true
 * ```
 */
export type DecodedFile =
  | { path: string; image: RgbImage }
  | { path: string; error: string };

/**
 * Turns paths into decoded files, yielding exactly one entry per path, in input order. It may
 * decode ahead of what was asked for, as long as what it holds stays bounded.
 *
 * @example
 * ```ts
 * import { type DecodeStage, decodeFiles } from "./decode_stage.ts";
 * const stage: DecodeStage = decodeFiles;
 * for await (const file of stage(["testdata/images/cat.jpg"])) console.log(file.path); // testdata/images/cat.jpg
 * ```
 */
export type DecodeStage = (paths: readonly string[]) => AsyncIterable<DecodedFile>;

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
 * The default stage: reads and decodes each file in turn, when the loop asks for it, so at most
 * one decoded image is held beyond the batch being assembled.
 *
 * @example
 * ```ts
 * const files = [];
 * for await (const file of decodeFiles(["testdata/images/cat.jpg"])) files.push(file);
 * console.log(files.length, "image" in files[0]); // 1 true
 * ```
 */
export async function* decodeFiles(paths: readonly string[]): AsyncGenerator<DecodedFile> {
  for (const path of paths) {
    let decoded: DecodedFile;
    try {
      decoded = { path, image: await decodeImage(await Deno.readFile(path), path) };
    } catch (error) {
      decoded = { path, error: fileFailure(path, error) };
    }
    yield decoded;
  }
}
