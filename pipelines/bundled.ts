/**
 * The model bundled with the package, used when no model is named: akamaster's CIFAR-10
 * ResNet-20 (BSD-2), converted to the zoo's own file.
 *
 * @example
 * ```ts
 * import { DEFAULT_MODEL, readBundledModel } from "./bundled.ts";
 * console.log(DEFAULT_MODEL.pathname.endsWith("models/cifar_resnet20.safetensors")); // true
 * console.log((await readBundledModel()).length); // 1093744
 * ```
 *
 * @module
 */

import { readWholeFile } from "../formats/files.ts";

/**
 * Where the bundled model lies: beside the sources, so a remote URL when the package runs from
 * JSR.
 *
 * @example
 * ```ts
 * console.log(DEFAULT_MODEL.protocol); // "file:" in a checkout
 * ```
 */
export const DEFAULT_MODEL: URL = new URL("../models/cifar_resnet20.safetensors", import.meta.url);

/**
 * The registry id of the bundled model's weights: naming it (or its architecture,
 * `cifar_resnet20`) means the bundled file, which needs no download.
 *
 * @example
 * ```ts
 * console.log(BUNDLED_ID); // "cifar_resnet20.cifar10"
 * ```
 */
export const BUNDLED_ID = "cifar_resnet20.cifar10";

/**
 * How the bundled model is named to users: its registry id, marked as bundled.
 *
 * @example
 * ```ts
 * console.log(BUNDLED_MODEL_NAME); // "cifar_resnet20.cifar10 (bundled)"
 * ```
 */
export const BUNDLED_MODEL_NAME = `${BUNDLED_ID} (bundled)`;

/**
 * The bundled model's bytes: read from the checkout, or fetched when the package is remote.
 *
 * @example
 * ```ts
 * import { readZooWeights } from "../convert/zoofile.ts";
 * const file = readZooWeights(await readBundledModel(), DEFAULT_MODEL.pathname);
 * console.log(file.spec.name, file.labels); // "cifar_resnet20" "cifar10"
 * ```
 */
export async function readBundledModel(): Promise<Uint8Array> {
  if (DEFAULT_MODEL.protocol !== "file:") {
    return new Uint8Array(await (await fetch(DEFAULT_MODEL)).arrayBuffer());
  }
  return await readWholeFile(DEFAULT_MODEL);
}
