/**
 * The project's errors. Each says what was wrong in one line that names the file, tensor or
 * option at fault, so that the CLI can print it as it is, without a stack trace.
 *
 * @example
 * ```ts
 * import { ZooFormatError } from "./errors.ts";
 * const error = new ZooFormatError("model.onnx", "tensor 'fc.weight' has 10 bytes, expected 40");
 * console.log(error.message); // model.onnx: tensor 'fc.weight' has 10 bytes, expected 40
 * ```
 *
 * @module
 */

/**
 * Thrown by every reader for malformed or unsupported input; the message names the file and what was wrong.
 *
 * @example
 * ```ts
 * import { importBytes } from "../convert/import.ts";
 * import { ZooFormatError } from "./errors.ts";
 * try {
 *   await importBytes(new TextEncoder().encode("hello"), "notes.txt");
 * } catch (error) {
 *   console.log(error instanceof ZooFormatError, (error as ZooFormatError).file); // true notes.txt
 * }
 * ```
 */
export class ZooFormatError extends Error {
  /** The file (or stream label) that failed. */
  readonly file: string;
  /**
   * Creates the error; the message is prefixed with the file name.
   *
   * @example
   * ```ts
   * const error = new ZooFormatError("model.onnx", "tensor 'fc.weight' has 10 bytes, expected 40");
   * console.log(error.file, error.name); // model.onnx ZooFormatError
   * ```
   */
  constructor(file: string, message: string) {
    super(`${file}: ${message}`);
    this.name = "ZooFormatError";
    this.file = file;
  }
}

/**
 * The file is readable but its graph is none of the zoo's ResNets; callers can then run
 * the file's own graph instead.
 *
 * @example
 * ```ts
 * import { importFile } from "../convert/import.ts";
 * import { NotZooResNetError } from "./errors.ts";
 * try {
 *   await importFile("testdata/keras-mlperf-tiny/resnet8_cifar10.h5");
 * } catch (error) {
 *   // MLPerf Tiny's ResNet-8 is a Keras network, but not one of the zoo's ResNets.
 *   console.log(error instanceof NotZooResNetError); // true
 * }
 * ```
 */
export class NotZooResNetError extends ZooFormatError {
  /**
   * Creates the error; the message is prefixed with the file name.
   *
   * @example
   * ```ts
   * const error = new NotZooResNetError("net.onnx", "not a ResNet this zoo knows");
   * console.log(error instanceof ZooFormatError, error.message); // true net.onnx: not a ResNet this zoo knows
   * ```
   */
  constructor(file: string, message: string) {
    super(file, message);
    this.name = "NotZooResNetError";
  }
}

/**
 * The message of anything thrown: an `Error`'s message, else the value as text.
 *
 * @example
 * ```ts
 * console.log(messageOf(new Error("boom")), messageOf("plain")); // boom plain
 * ```
 */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
