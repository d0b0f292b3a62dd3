/**
 * The vision layer: images in, model inputs out. Decoding by libvips (sharp: JPEG, PNG, GIF,
 * WebP, AVIF, TIFF, EXIF orientation applied) to RGB, folders and globs to image paths, and the
 * preprocessing each weights set was trained with (Pillow's resampling, to the byte).
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

export { decodeForModel, decodeImage, type ImageFormat, sniffImageFormat } from "./decode.ts";
export { MAX_IMAGE_PIXELS, type RgbImage } from "./rgb_image.ts";
export { expandImageArgs } from "./paths.ts";
export { splitImageRows } from "./tiles.ts";
export { type CropPlan, planCrop } from "./geometry.ts";
export { resizeAndCrop } from "./resample.ts";
export { preprocessImages, scaleImages } from "./preprocess.ts";
export { decodeAhead, type DecodeAheadOptions, type DecodedInput } from "./decode_pool.ts";
