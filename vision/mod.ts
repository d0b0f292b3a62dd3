/**
 * The vision layer: images in, model inputs out. Decoding (JPEG with EXIF orientation, PNG,
 * GIF, WebP) to RGB, folders and globs to image paths, and the preprocessing each weights set
 * was trained with, run on the active tfjs backend.
 *
 * @example
 * ```ts
 * import { decodeImage, preprocessImages } from "@denozoo/zoo/vision";
 * import { TORCHVISION_V1 } from "@denozoo/zoo/arch";
 * import { useBackend } from "@denozoo/zoo/runtime";
 * await useBackend("wasm");
 * const image = await decodeImage(await Deno.readFile("testdata/images/cat.jpg"), "cat.jpg");
 * console.log(preprocessImages([image], TORCHVISION_V1).shape); // [ 1, 224, 224, 3 ]
 * ```
 *
 * @module
 */

export { decodeImage } from "./decode.ts";
export { MAX_IMAGE_PIXELS, type RgbImage } from "./rgb_image.ts";
export { expandImageArgs } from "./paths.ts";
export { splitImageRows } from "./tiles.ts";
export { preprocessImages } from "./preprocess.ts";
