/**
 * Image decoding for classification input: JPEG (with its EXIF orientation applied), PNG, GIF
 * (first frame) and WebP, always to 8-bit RGB. The format is told by the file's magic bytes,
 * never by its extension; each format's decoder lives in its own file (`jpeg.ts`, `png.ts`,
 * `gif.ts`, `webp.ts`). Malformed or unsupported input raises {@link ZooFormatError} naming the
 * file.
 *
 * @example
 * ```ts
 * import { decodeImage } from "./decode.ts";
 * import { expandImageArgs } from "./paths.ts";
 *
 * const files = await expandImageArgs(["testdata/images"]); // cat, fish-bike, grace_hopper
 * const images = await Promise.all(
 *   files.map(async (file) => decodeImage(await Deno.readFile(file), file)),
 * );
 * console.log(images.map(({ width, height }) => `${width}×${height}`)); // [ "480×360", "481×323", "517×606" ]
 * ```
 *
 * @module
 */

import { ZooFormatError } from "../arch/errors.ts";
import { decodeGifImage } from "./gif.ts";
import { decodeJpegImage } from "./jpeg.ts";
import { decodePngImage } from "./png.ts";
import type { RgbImage } from "./rgb_image.ts";
import { decodeWebpImage } from "./webp.ts";

type ImageFormat = "jpeg" | "png" | "gif" | "webp";

/**
 * Decodes a JPEG, PNG, GIF or WebP file to 8-bit RGB.
 *
 * - JPEG: baseline and progressive (jpeg-js); grayscale and CMYK become RGB; the EXIF
 *   Orientation tag (1–8) is applied, so the result is upright as a viewer shows it.
 * - PNG: every colour type and bit depth; 16-bit samples keep their high byte (as Pillow does),
 *   1/2/4-bit gray is scaled to 0–255, palettes are looked up, alpha is dropped.
 * - GIF: the first frame on the logical screen; transparent pixels are black.
 * - WebP: lossy, lossless and extended (VP8X) files, through libwebp compiled to WebAssembly
 *   (loaded on the first WebP file); alpha is dropped.
 *
 * Alpha is dropped without compositing, as Pillow's `convert("RGB")` does.
 *
 * @param bytes The file's contents.
 * @param file The file's name, used in error messages only.
 * @returns The decoded image.
 * @throws {ZooFormatError} When the format is not recognised, the data is malformed, the image
 *   is larger than `MAX_IMAGE_PIXELS`, or the WebP decoder could not load.
 *
 * @example
 * ```ts
 * import { decodeImage } from "./decode.ts";
 * const image = await decodeImage(await Deno.readFile("testdata/images/cat.jpg"), "cat.jpg");
 * console.log(image.width, image.height, image.data.length); // 480 360 518400
 * ```
 */
export async function decodeImage(bytes: Uint8Array, file: string): Promise<RgbImage> {
  switch (sniffFormat(bytes, file)) {
    case "jpeg":
      return decodeJpegImage(bytes, file);
    case "png":
      return decodePngImage(bytes, file);
    case "gif":
      return decodeGifImage(bytes, file);
    case "webp":
      return await decodeWebpImage(bytes, file);
  }
}

function sniffFormat(bytes: Uint8Array, file: string): ImageFormat {
  const startsWith = (ascii: string, at = 0): boolean =>
    bytes.length >= at + ascii.length &&
    [...ascii].every((ch, i) => bytes[at + i] === ch.charCodeAt(0));
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) {
    return "jpeg";
  }
  if (startsWith("\x89PNG\r\n\x1a\n")) return "png";
  if (startsWith("GIF87a") || startsWith("GIF89a")) return "gif";
  if (startsWith("RIFF") && startsWith("WEBP", 8)) return "webp";
  if (bytes.length === 0) throw new ZooFormatError(file, "empty file, expected an image");
  const head = [...bytes.subarray(0, 8)].map((b) => b.toString(16).padStart(2, "0")).join(" ");
  throw new ZooFormatError(
    file,
    `not a JPEG, PNG, GIF or WebP image by its magic bytes; it starts with ${head}`,
  );
}
