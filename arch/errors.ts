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

/** Thrown by every reader for malformed or unsupported input; the message names the file and what was wrong. */
export class ZooFormatError extends Error {
  /** The file (or stream label) that failed. */
  readonly file: string;
  /**
   * Creates the error; the message is prefixed with the file name.
   *
   * @example
   * ```ts
   * throw new ZooFormatError("model.onnx", "tensor 'fc.weight' has 10 bytes, expected 40");
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
 * // try { importBytes(bytes, file) } catch (e) { if (e instanceof NotZooResNetError) … }
 * ```
 */
export class NotZooResNetError extends ZooFormatError {
  /**
   * Creates the error; the message is prefixed with the file name.
   *
   * @example
   * ```ts
   * throw new NotZooResNetError("net.onnx", "not a ResNet this zoo knows: …");
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
