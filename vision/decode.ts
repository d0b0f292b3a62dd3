/**
 * Image decoding for classification input, by libvips (through sharp): JPEG, PNG, GIF (first
 * frame), WebP, AVIF and TIFF (first page), with the EXIF orientation applied, always to 8-bit
 * RGB as Pillow's `convert("RGB")` gives it (alpha dropped without compositing, 16-bit samples to
 * their high byte, embedded colour profiles ignored — the pixels torchvision's loader sees).
 * The format is told by the file's magic bytes, never by its extension; what libvips refuses
 * raises {@link ZooFormatError} naming the file.
 *
 * Hostile input: the header's size is checked against `MAX_IMAGE_PIXELS`, and against the file's
 * size (no more than 16,384 pixels per byte), before any pixel buffer exists (libvips reads
 * headers without decoding), and libvips aborts on the first warning (truncated data, corrupt
 * entropy coding) instead of returning a partly grey image.
 *
 * {@link decodeForModel} goes straight to a model's input size, resampling as Pillow does (the
 * same bytes as torchvision's `Resize` + `CenterCrop` on a PIL image, bilinear or bicubic). For
 * a bilinear spec, a JPEG 30× or more larger than that is decoded shrunk by 2, 4 or 8 in the DCT
 * domain (libjpeg's scaled IDCT) and reduced 1.5× more by libvips first, which leaves Pillow's
 * filter at least 10× to do: an 8000×8000 photo then never exists at full size, and the result
 * stays within 0.1–0.5/255 of Pillow's on average. A bicubic spec (timm's) is always decoded at
 * full size: before the cubic those steps were measured further off.
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

import { Buffer } from "node:buffer";
import type { Metadata, Sharp as SharpPipeline } from "sharp";
import { ZooFormatError } from "../arch/errors.ts";
import type { Interpolation, PreprocessSpec } from "../arch/preprocess.ts";
import { type CropPlan, planCrop } from "./geometry.ts";
import { loadSharp } from "./libvips.ts";
import { resizeAndCrop } from "./resample.ts";
import { MAX_IMAGE_PIXELS, type RgbImage } from "./rgb_image.ts";

/**
 * The formats {@link decodeImage} accepts (libvips reads more, SVG and PDF among them, which
 * have no place in a classifier's input).
 *
 * @example
 * ```ts
 * import type { ImageFormat } from "./decode.ts";
 * const format: ImageFormat = "avif";
 * console.log(format); // avif
 * ```
 */
export type ImageFormat = "jpeg" | "png" | "gif" | "webp" | "avif" | "tiff";

const FORMAT_NAMES: Record<ImageFormat, string> = {
  jpeg: "JPEG",
  png: "PNG",
  gif: "GIF",
  webp: "WebP",
  avif: "AVIF",
  tiff: "TIFF",
};

/**
 * The format of an image file by its magic bytes.
 *
 * @param bytes The file's contents (its first 16 bytes are enough).
 * @param file The file's name, for the error.
 * @returns The format.
 * @throws {ZooFormatError} For an empty file, or one that starts like none of the formats.
 *
 * @example
 * ```ts
 * const png = await Deno.readFile("testdata/fixtures/images/png_rgb8.png");
 * console.log(sniffImageFormat(png, "png_rgb8.png")); // png
 * ```
 */
export function sniffImageFormat(bytes: Uint8Array, file: string): ImageFormat {
  const startsWith = (ascii: string, at = 0): boolean =>
    bytes.length >= at + ascii.length &&
    [...ascii].every((ch, i) => bytes[at + i] === ch.charCodeAt(0));
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) {
    return "jpeg";
  }
  if (startsWith("\x89PNG\r\n\x1a\n")) return "png";
  if (startsWith("GIF87a") || startsWith("GIF89a")) return "gif";
  if (startsWith("RIFF") && startsWith("WEBP", 8)) return "webp";
  if (startsWith("ftyp", 4) && (startsWith("avif", 8) || startsWith("avis", 8))) return "avif";
  if (startsWith("II*\0") || startsWith("MM\0*")) return "tiff";
  if (bytes.length === 0) throw new ZooFormatError(file, "empty file, expected an image");
  const head = [...bytes.subarray(0, 8)].map((b) => b.toString(16).padStart(2, "0")).join(" ");
  throw new ZooFormatError(
    file,
    `not a JPEG, PNG, GIF, WebP, AVIF or TIFF image by its magic bytes; it starts with ${head}`,
  );
}

/**
 * The most pixels an image may have per byte of its file. Pixel data compresses far less than
 * this in every format (deflate and LZW peak near 1000:1); only a header describing a canvas
 * that the data never paints (a GIF screen, say) gets there, and decoding it costs seconds.
 */
const MAX_PIXELS_PER_BYTE = 16_384;

/** An image file opened by libvips: its format, upright size, and a pipeline factory. */
interface OpenedImage {
  format: ImageFormat;
  /** Width after the EXIF orientation. */
  width: number;
  /** Height after the EXIF orientation. */
  height: number;
  /** A fresh libvips pipeline over the file, orientation applied. */
  pipeline(): SharpPipeline;
}

/** Runs a libvips step; what it throws becomes a ZooFormatError naming the file and format. */
async function libvipsStep<T>(
  file: string,
  format: ImageFormat,
  step: () => Promise<T>,
  reason?: string,
): Promise<T> {
  try {
    return await step();
  } catch (error) {
    const said = (error instanceof Error ? error.message : String(error)).replace(/\s+/g, " ");
    throw new ZooFormatError(
      file,
      `invalid ${FORMAT_NAMES[format]} image: ${reason ?? said.trim()}`,
    );
  }
}

/**
 * The reason given when decoding the pixels fails. libvips' own words are not passed on here:
 * sharp collects them in buffers the whole process shares, so the same file got "premature end
 * of JPEG image", that twice, or no words at all, depending on which thread decoded what before.
 */
const CORRUPT_DATA = "corrupt or truncated data (libvips stopped decoding it)";

/** Sniffs the format, reads the header and refuses an empty or oversized image. */
async function openImage(bytes: Uint8Array, file: string): Promise<OpenedImage> {
  const format = sniffImageFormat(bytes, file);
  const sharp = await loadSharp();
  // A Buffer over the same bytes: sharp tells typed arrays by their constructor, which a caller
  // (or the fuzzer's allocation guard) may have subclassed.
  const input = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const options = {
    // Pillow's convert("RGB") ignores embedded profiles; so do the weights' training pipelines.
    ignoreIcc: true,
    autoOrient: true,
    limitInputPixels: MAX_IMAGE_PIXELS,
    failOn: "warning" as const,
  };
  // The header alone, so that an oversized image gets this module's message, with its size.
  const meta: Metadata = await libvipsStep(
    file,
    format,
    () => sharp(input, { ...options, limitInputPixels: false }).metadata(),
  );
  const stored = { width: meta.width ?? 0, height: meta.height ?? 0 };
  if (stored.width < 1 || stored.height < 1) {
    throw new ZooFormatError(
      file,
      `${FORMAT_NAMES[format]} header gives an empty image (${stored.width}×${stored.height})`,
    );
  }
  const pixels = stored.width * stored.height;
  if (pixels > MAX_IMAGE_PIXELS) {
    throw new ZooFormatError(
      file,
      `${FORMAT_NAMES[format]} image is ${stored.width}×${stored.height} = ${pixels} pixels, ` +
        `more than the ${MAX_IMAGE_PIXELS} allowed`,
    );
  }
  if (pixels > bytes.length * MAX_PIXELS_PER_BYTE) {
    throw new ZooFormatError(
      file,
      `${FORMAT_NAMES[format]} header claims ${stored.width}×${stored.height} pixels, more than ` +
        `${MAX_PIXELS_PER_BYTE} per byte of its ${bytes.length}-byte file: a decompression bomb`,
    );
  }
  const turned = (meta.orientation ?? 1) >= 5;
  return {
    format,
    width: turned ? stored.height : stored.width,
    height: turned ? stored.width : stored.height,
    pipeline: () => sharp(input, options),
  };
}

/** Runs a pipeline to 8-bit RGB, checking the size it was meant to give. */
async function toRgb(
  image: OpenedImage,
  file: string,
  pipeline: SharpPipeline,
  width: number,
  height: number,
): Promise<RgbImage> {
  // Alpha is dropped here rather than by sharp's removeAlpha(), which together with the sRGB
  // conversion overflowed the stack on a fuzzed CIELab TIFF (a crash no try/catch survives).
  const { data, info } = await libvipsStep(
    file,
    image.format,
    () =>
      pipeline.toColourspace("srgb").raw({ depth: "uchar" }).toBuffer({ resolveWithObject: true }),
    CORRUPT_DATA,
  );
  if (
    info.width !== width || info.height !== height || (info.channels !== 3 && info.channels !== 4)
  ) {
    throw new Error(
      `${file}: libvips gave ${info.width}×${info.height}×${info.channels}, expected ${width}×${height}×3`,
    );
  }
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (info.channels === 3) return { width, height, data: bytes };
  const rgb = new Uint8Array(width * height * 3);
  for (let p = 0, q = 0; q < rgb.length; p += 4, q += 3) {
    rgb[q] = bytes[p];
    rgb[q + 1] = bytes[p + 1];
    rgb[q + 2] = bytes[p + 2];
  }
  return { width, height, data: rgb };
}

/**
 * Decodes a JPEG, PNG, GIF, WebP, AVIF or TIFF file to 8-bit RGB, upright (EXIF orientation
 * applied), as Pillow's `ImageOps.exif_transpose(Image.open(f)).convert("RGB")` gives it: the
 * shared photos and every PNG colour type and bit depth decode to the same bytes.
 *
 * @param bytes The file's contents.
 * @param file The file's name, used in error messages only.
 * @returns The decoded image.
 * @throws {ZooFormatError} When the format is not recognised, the data is malformed, or the
 *   image is larger than `MAX_IMAGE_PIXELS`.
 * @throws {Error} When sharp cannot load (see `loadSharp`).
 *
 * @example
 * ```ts
 * import { decodeImage } from "./decode.ts";
 * const image = await decodeImage(await Deno.readFile("testdata/images/cat.jpg"), "cat.jpg");
 * console.log(image.width, image.height, image.data.length); // 480 360 518400
 * ```
 */
export async function decodeImage(bytes: Uint8Array, file: string): Promise<RgbImage> {
  const image = await openImage(bytes, file);
  return await toRgb(image, file, image.pipeline(), image.width, image.height);
}

/** What libvips resizes by after its DCT shrink: 1.5, which it does as a plain triangle filter. */
const LIBVIPS_STEP = 1.5;

/**
 * The shrink-on-load factors, largest first, each with the factor Pillow's filter must still
 * resample by after it (and libvips' 1.5× step). The DCT shrink filters otherwise than Pillow's
 * triangle; measured on the shared photos (mean |Δ| in 0–255 units against Pillow on the full
 * image), halving costs 0.1–0.5 once Pillow's filter does 10× or more, 0.5–1.4 below; quartering
 * 0.2–0.5 from 14×, up to 3 below.
 */
const SHRINK_ON_LOAD: readonly { factor: number; pillowFactor: number }[] = [
  { factor: 8, pillowFactor: 14 },
  { factor: 4, pillowFactor: 14 },
  { factor: 2, pillowFactor: 10 },
];

/**
 * The JPEG shrink-on-load factor for a plan (see {@link SHRINK_ON_LOAD}), else 1. Bilinear only:
 * before Pillow's bicubic the same steps measured 0.10, 0.55 and 0.31/255 off on average on the
 * shared photos at 32–52× (resize 10, crop 10), over the 0.5/255 allowed, so a bicubic spec
 * always decodes at full size and is resampled here alone, to Pillow's bytes.
 */
function shrinkOnLoad(image: OpenedImage, plan: CropPlan, filter: Interpolation): number {
  if (image.format !== "jpeg" || filter !== "bilinear") return 1;
  const ratio = Math.min(image.width / plan.resizedWidth, image.height / plan.resizedHeight);
  return SHRINK_ON_LOAD.find(({ factor, pillowFactor }) =>
    ratio >= factor * LIBVIPS_STEP * pillowFactor
  )?.factor ?? 1;
}

/**
 * Decodes an image straight to a model's input: resized and cropped as the weights' preprocessing
 * says (see `planCrop`), 8-bit RGB, before scaling. The pixels are Pillow's, to the byte, with
 * the spec's `interpolation` — except, for a bilinear spec, for a JPEG 30× or more larger than
 * the resized size, which is decoded shrunk by 2, 4 or 8 (so that Pillow's filter still
 * resamples 10–14× after libvips' 1.5× step; measured 0.1–0.5/255 from Pillow's on average).
 *
 * @param bytes The file's contents.
 * @param file The file's name, used in error messages only.
 * @param spec The weights' preprocessing (its geometry and interpolation are used here; `mode`
 *   is not).
 * @returns The model input's pixels, `crop`×`crop` (or the `size`).
 * @throws {ZooFormatError} As {@link decodeImage} does.
 * @throws {RangeError} For a malformed spec.
 *
 * @example
 * ```ts
 * import { TORCHVISION_V2 } from "../arch/preprocess.ts";
 * const bytes = await Deno.readFile("testdata/images/grace_hopper.jpg");
 * const input = await decodeForModel(bytes, "grace_hopper.jpg", TORCHVISION_V2);
 * console.log(input.width, input.height, input.data.length); // 224 224 150528
 * ```
 */
export async function decodeForModel(
  bytes: Uint8Array,
  file: string,
  spec: PreprocessSpec,
): Promise<RgbImage> {
  const image = await openImage(bytes, file);
  const plan = planCrop(image.width, image.height, spec);
  const factor = shrinkOnLoad(image, plan, spec.interpolation ?? "bilinear");
  if (factor === 1) {
    const full = await toRgb(image, file, image.pipeline(), image.width, image.height);
    return resizeAndCrop(full, plan, spec.interpolation);
  }
  // Asking for 1/(1.5·factor) of the size makes sharp decode the JPEG at 1/factor (its rule:
  // the largest of 8, 4, 2 that the shrink reaches, unless the shrink truncates to it) and
  // reduce the rest, 1.5×, with libvips' triangle; Pillow's filter then does the remaining 10×+.
  const width = Math.floor(image.width / (LIBVIPS_STEP * factor));
  const height = Math.floor(image.height / (LIBVIPS_STEP * factor));
  const shrunk = await toRgb(
    image,
    file,
    image.pipeline().resize(width, height, { fit: "fill", kernel: "linear" }),
    width,
    height,
  );
  return resizeAndCrop(shrunk, plan, spec.interpolation);
}
