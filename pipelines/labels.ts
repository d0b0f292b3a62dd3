/**
 * Class names as a user names them: a label set the zoo knows (`imagenet`, `cifar10`) or a
 * label file, read and parsed (see `parseLabelFile` for the three forms a file may take).
 *
 * @example
 * ```ts
 * import { readLabels } from "./labels.ts";
 * console.log(await readLabels("cifar10")); // cifar10
 * const names = await readLabels("testdata/labels/imagenet_class_index.json");
 * console.log(names.length, names[281]); // 1000 tabby
 * ```
 *
 * @module
 */

import { isLabelSet, LABEL_SETS, type Labels, parseLabelFile } from "../arch/labels.ts";
import { didYouMean } from "../arch/suggest.ts";
import { readWholeFile } from "../formats/files.ts";

/**
 * The labels a name means: the label set of that name, else the class names in the file at
 * that path.
 *
 * @throws {Deno.errors.NotFound} When the value is neither a label set nor a file, naming the
 *   sets (and the nearest).
 * @throws {ZooFormatError} When the file is no label file.
 *
 * @example
 * ```ts
 * try {
 *   await readLabels("cifar-10");
 * } catch (error) {
 *   console.log((error as Error).message);
 *   // labels 'cifar-10' is neither a label set (imagenet, imagenet_background, cifar10) nor a file (did you mean cifar10?)
 * }
 * ```
 */
export async function readLabels(value: string): Promise<Labels> {
  if (isLabelSet(value)) return value;
  let bytes: Uint8Array;
  try {
    bytes = await readWholeFile(value);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    throw new Deno.errors.NotFound(
      `labels '${value}' is neither a label set (${LABEL_SETS.join(", ")}) nor a file` +
        didYouMean(value, LABEL_SETS),
    );
  }
  return parseLabelFile(new TextDecoder().decode(bytes), value);
}
