/**
 * Image decoding for classification input: JPEG (with its EXIF orientation applied), PNG, GIF
 * (first frame) and WebP, always to 8-bit RGB; and the expansion of command-line image arguments
 * (files, directories, globs) into a list of files.
 *
 * The format is told by the file's magic bytes, never by its extension. Malformed or unsupported
 * input raises {@link ZooFormatError} naming the file.
 *
 * @example
 * ```ts
 * import { decodeImage, expandImageArgs } from "./image.ts";
 *
 * for (const file of await expandImageArgs(["photos/", "*.jpg"])) {
 *   const image = decodeImage(await Deno.readFile(file), file);
 *   console.log(file, image.width, image.height);
 * }
 * ```
 *
 * @module
 */

import jpeg from "jpeg-js";
import { decode as decodePng } from "fast-png";
import { GifReader } from "omggif";
// libwebp reads its .wasm from the package folder when loaded. Loading it lazily and
// tolerating failure keeps JPEG/PNG/GIF working under narrow --allow-read permissions.
const webp: {
  decode(bytes: Uint8Array): { width: number; height: number; data: Uint8ClampedArray };
} | Error = await import("@cwasm/webp").catch((error: Error) => error);
import { ZooFormatError } from "../arch/errors.ts";

/** An 8-bit RGB image. */
export interface RgbImage {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** RGB samples, row-major, 3 bytes per pixel: `width * height * 3` bytes. */
  data: Uint8Array;
}

/**
 * The largest image {@link decodeImage} accepts, in pixels (width × height). It is checked
 * against the header before any pixel buffer is allocated, since a few hundred bytes of
 * compressed data can claim gigapixel dimensions.
 *
 * @example
 * ```ts
 * import { MAX_IMAGE_PIXELS } from "./image.ts";
 * console.log(`images up to ${MAX_IMAGE_PIXELS / 1e6} MP`);
 * ```
 */
export const MAX_IMAGE_PIXELS: number = 100_000_000;

/** jpeg-js counts its own allocations against this (RGB output plus coefficient buffers). */
const JPEG_MAX_MEMORY_MB = 2048;

/** Extensions (lower case, no dot) that a directory walk or a glob picks up. */
const IMAGE_EXTENSIONS: ReadonlySet<string> = new Set(["jpg", "jpeg", "png", "gif", "webp"]);

type ImageFormat = "jpeg" | "png" | "gif" | "webp";

/**
 * Decodes a JPEG, PNG, GIF or WebP file to 8-bit RGB.
 *
 * - JPEG: baseline and progressive (jpeg-js); grayscale and CMYK become RGB; the EXIF
 *   Orientation tag (1–8) is applied, so the result is upright as a viewer shows it.
 * - PNG: every colour type and bit depth; 16-bit samples keep their high byte (as Pillow does),
 *   1/2/4-bit gray is scaled to 0–255, palettes are looked up, alpha is dropped.
 * - GIF: the first frame on the logical screen; transparent pixels are black.
 * - WebP: lossy, lossless and extended (VP8X) files, through libwebp compiled to WebAssembly;
 *   alpha is dropped.
 *
 * Alpha is dropped without compositing, as Pillow's `convert("RGB")` does.
 *
 * @param bytes The file's contents.
 * @param file The file's name, used in error messages only.
 * @returns The decoded image.
 * @throws {ZooFormatError} When the format is not recognised, the data is malformed, or the image
 *   is larger than {@link MAX_IMAGE_PIXELS}.
 *
 * @example
 * ```ts
 * import { decodeImage } from "./image.ts";
 * const image = decodeImage(await Deno.readFile("cat.jpg"), "cat.jpg");
 * console.log(image.width, image.height, image.data.length); // 480 360 518400
 * ```
 */
export function decodeImage(bytes: Uint8Array, file: string): RgbImage {
  switch (sniffFormat(bytes, file)) {
    case "jpeg":
      return decodeJpegImage(bytes, file);
    case "png":
      return decodePngImage(bytes, file);
    case "gif":
      return decodeGifImage(bytes, file);
    case "webp":
      return decodeWebpImage(bytes, file);
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

function checkPixelCount(file: string, format: string, width: number, height: number): void {
  if (width < 1 || height < 1) {
    throw new ZooFormatError(file, `${format} header gives an empty image (${width}×${height})`);
  }
  if (width * height > MAX_IMAGE_PIXELS) {
    throw new ZooFormatError(
      file,
      `${format} image is ${width}×${height} = ${
        width * height
      } pixels, more than the ${MAX_IMAGE_PIXELS} allowed`,
    );
  }
}

/** Runs a third-party decoder step, turning whatever it throws into a {@link ZooFormatError}. */
function attempt<T>(file: string, what: string, step: () => T): T {
  try {
    return step();
  } catch (error) {
    // jpeg-js and omggif throw strings as well as Errors
    throw new ZooFormatError(file, `${what}: ${error instanceof Error ? error.message : error}`);
  }
}

/**
 * Copies the first three samples of each pixel (or the only one, for gray and gray+alpha) into
 * RGB bytes. `shift` is 8 for 16-bit samples, keeping the high byte.
 */
function interleavedToRgb(
  samples: ArrayLike<number>,
  pixels: number,
  channels: number,
  shift: number,
): Uint8Array {
  const rgb = new Uint8Array(pixels * 3);
  const colorStep = channels >= 3 ? 1 : 0;
  for (let p = 0, src = 0, dst = 0; p < pixels; p++, src += channels, dst += 3) {
    rgb[dst] = samples[src] >> shift;
    rgb[dst + 1] = samples[src + colorStep] >> shift;
    rgb[dst + 2] = samples[src + 2 * colorStep] >> shift;
  }
  return rgb;
}

// ----------------------------------------------------------------------------------------- JPEG

function decodeJpegImage(bytes: Uint8Array, file: string): RgbImage {
  checkJpegFrameSize(bytes, file);
  const { width, height, data } = attempt(file, "invalid JPEG", () =>
    jpeg.decode(bytes, {
      useTArray: true,
      formatAsRGBA: false,
      maxResolutionInMP: MAX_IMAGE_PIXELS / 1e6,
      maxMemoryUsageInMB: JPEG_MAX_MEMORY_MB,
    }));
  checkPixelCount(file, "JPEG", width, height);
  if (data.length !== width * height * 3) {
    throw new ZooFormatError(
      file,
      `JPEG decoder returned ${data.length} bytes for ${width}×${height} RGB`,
    );
  }
  return applyOrientation({ width, height, data }, jpegOrientation(bytes));
}

/** One marker segment before the scan data: its marker and where its payload lies. */
interface JpegSegment {
  marker: number;
  /** Offset of the payload, after the 2-byte length. */
  start: number;
  /** Offset just past the segment. */
  end: number;
}

/** The marker segments before the first scan; stops at anything malformed. */
function* jpegSegments(bytes: Uint8Array): Generator<JpegSegment> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = 2; // after SOI
  while (offset + 4 <= bytes.length) {
    if (bytes[offset] !== 0xff) return;
    const marker = bytes[offset + 1];
    if (marker === 0xff) { // fill byte before a marker
      offset++;
      continue;
    }
    if (marker === 0xda || marker === 0xd9) return; // start of scan / end of image
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) { // markers without a length
      offset += 2;
      continue;
    }
    const length = view.getUint16(offset + 2);
    const end = offset + 2 + length;
    if (length < 2 || end > bytes.length) return;
    yield { marker, start: offset + 4, end };
    offset = end;
  }
}

/**
 * Every 8×8 block of a JPEG costs at least one bit of scan data (its DC code), so a frame header
 * claiming more blocks than eight per byte of the file is corrupt. Checking this first keeps a
 * few hundred bytes from making the decoder allocate and transform a gigapixel.
 */
function checkJpegFrameSize(bytes: Uint8Array, file: string): void {
  for (const { marker, start, end } of jpegSegments(bytes)) {
    // SOF0–SOF15, except DHT (c4), JPG (c8) and DAC (cc).
    const isFrame = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 &&
      marker !== 0xcc;
    if (!isFrame || end - start < 5) continue;
    const height = (bytes[start + 1] << 8) | bytes[start + 2];
    const width = (bytes[start + 3] << 8) | bytes[start + 4];
    const blocks = Math.ceil(width / 8) * Math.ceil(height / 8);
    if (blocks > 8 * bytes.length) {
      throw new ZooFormatError(
        file,
        `invalid JPEG: the frame header claims ${width}×${height} pixels, more than the ` +
          `${bytes.length}-byte file can encode`,
      );
    }
    return;
  }
}

/**
 * Reads the EXIF Orientation tag (0x0112) from IFD0 of the first APP1 "Exif" segment before the
 * scan data. Returns 1 (upright) when there is none or the EXIF block is unreadable: a broken
 * EXIF block does not make the picture undecodable, and viewers ignore it too.
 */
function jpegOrientation(bytes: Uint8Array): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (const { marker, start, end } of jpegSegments(bytes)) {
    if (marker === 0xe1 && end - start >= 6 && isExifHeader(bytes, start)) {
      return tiffOrientation(view, start + 6, end);
    }
  }
  return 1;
}

function isExifHeader(bytes: Uint8Array, at: number): boolean {
  return [0x45, 0x78, 0x69, 0x66, 0, 0].every((b, i) => bytes[at + i] === b); // "Exif\0\0"
}

/** Orientation from a TIFF structure spanning [start, end) of the view; 1 if absent or bad. */
function tiffOrientation(view: DataView, start: number, end: number): number {
  if (end - start < 8) return 1;
  const order = view.getUint16(start);
  if (order !== 0x4949 && order !== 0x4d4d) return 1; // "II" little-endian, "MM" big-endian
  const little = order === 0x4949;
  if (view.getUint16(start + 2, little) !== 42) return 1;
  const ifd = start + view.getUint32(start + 4, little);
  if (ifd + 2 > end) return 1;
  const entries = view.getUint16(ifd, little);
  for (let i = 0; i < entries; i++) {
    const entry = ifd + 2 + 12 * i;
    if (entry + 12 > end) return 1;
    if (view.getUint16(entry, little) !== 0x0112) continue;
    const isShort = view.getUint16(entry + 2, little) === 3;
    const value = view.getUint16(entry + 8, little);
    return isShort && value >= 1 && value <= 8 ? value : 1;
  }
  return 1;
}

/**
 * Source pixel index of output pixel (ox, oy) is `base + ox * dx + oy * dy`, in source pixels,
 * for the EXIF orientations 1–8 (an image `w` wide and `h` high). Orientations 5–8 swap width
 * and height.
 */
function orientationStrides(
  orientation: number,
  w: number,
  h: number,
): { base: number; dx: number; dy: number } {
  const last = (h - 1) * w; // first pixel of the bottom row
  switch (orientation) {
    case 2: // mirrored left-right
      return { base: w - 1, dx: -1, dy: w };
    case 3: // rotated 180°
      return { base: last + w - 1, dx: -1, dy: -w };
    case 4: // mirrored top-bottom
      return { base: last, dx: 1, dy: -w };
    case 5: // transposed (mirrored along the main diagonal)
      return { base: 0, dx: w, dy: 1 };
    case 6: // needs a 90° clockwise turn
      return { base: last, dx: -w, dy: 1 };
    case 7: // transversed (mirrored along the anti-diagonal)
      return { base: last + w - 1, dx: -w, dy: -1 };
    case 8: // needs a 90° counter-clockwise turn
      return { base: w - 1, dx: w, dy: -1 };
    default:
      return { base: 0, dx: 1, dy: w };
  }
}

function applyOrientation(image: RgbImage, orientation: number): RgbImage {
  if (orientation === 1) return image;
  const { width: w, height: h, data } = image;
  const swapped = orientation >= 5;
  const outWidth = swapped ? h : w;
  const outHeight = swapped ? w : h;
  const { base, dx, dy } = orientationStrides(orientation, w, h);
  const out = new Uint8Array(data.length);
  let dst = 0;
  for (let oy = 0; oy < outHeight; oy++) {
    let src = (base + oy * dy) * 3;
    for (let ox = 0; ox < outWidth; ox++, src += dx * 3, dst += 3) {
      out[dst] = data[src];
      out[dst + 1] = data[src + 1];
      out[dst + 2] = data[src + 2];
    }
  }
  return { width: outWidth, height: outHeight, data: out };
}

// ------------------------------------------------------------------------------------------ PNG

function decodePngImage(bytes: Uint8Array, file: string): RgbImage {
  // IHDR must be the first chunk: length (4) and "IHDR" (4) after the 8-byte signature.
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 33 || view.getUint32(12) !== 0x49484452) {
    throw new ZooFormatError(file, "invalid PNG: IHDR chunk missing at offset 8");
  }
  checkPixelCount(file, "PNG", view.getUint32(16), view.getUint32(20));
  checkPngDataSize(bytes, view, file);
  const { width, height, depth, channels, data, palette } = attempt(
    file,
    "invalid PNG",
    () => decodePng(bytes),
  );
  const pixels = width * height;
  const expected = depth < 8 ? Math.ceil((width * depth) / 8) * height : pixels * channels;
  if (data.length < expected) {
    throw new ZooFormatError(
      file,
      `invalid PNG: image data has ${data.length} samples, ${width}×${height} needs ${expected}`,
    );
  }
  // Colour type 3 decodes to one channel of indices; truecolour files may carry a PLTE too,
  // as a mere suggestion, which must not be applied.
  if (palette && channels === 1) {
    const indices = depth < 8 ? unpackSubByteSamples(data, width, height, depth) : data;
    const rgb = new Uint8Array(pixels * 3);
    for (let p = 0; p < pixels; p++) {
      const color = palette[indices[p]];
      if (!color) {
        throw new ZooFormatError(
          file,
          `invalid PNG: pixel ${p} uses palette index ${
            indices[p]
          }, the palette has ${palette.length} entries`,
        );
      }
      rgb[p * 3] = color[0];
      rgb[p * 3 + 1] = color[1];
      rgb[p * 3 + 2] = color[2];
    }
    return { width, height, data: rgb };
  }
  if (depth < 8) {
    const levels = unpackSubByteSamples(data, width, height, depth);
    const scale = 255 / ((1 << depth) - 1); // 255, 85 or 17: exact integers
    for (let p = 0; p < pixels; p++) levels[p] *= scale;
    return { width, height, data: interleavedToRgb(levels, pixels, 1, 0) };
  }
  return { width, height, data: interleavedToRgb(data, pixels, channels, depth === 16 ? 8 : 0) };
}

/** Samples per pixel of each PNG colour type. */
const PNG_CHANNELS: Readonly<Record<number, number>> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/**
 * The image data (all IDAT chunks) is zlib-compressed, and deflate expands at most about 1032:1;
 * an IHDR claiming more pixel bytes than that is corrupt. Checked before the decoder allocates
 * the whole image.
 */
function checkPngDataSize(bytes: Uint8Array, view: DataView, file: string): void {
  const width = view.getUint32(16);
  const height = view.getUint32(20);
  const bitsPerPixel = bytes[24] * (PNG_CHANNELS[bytes[25]] ?? 1);
  const pixelBytes = height * Math.ceil((width * bitsPerPixel) / 8);
  let compressed = 0;
  for (let at = 8; at + 12 <= bytes.length;) {
    const length = view.getUint32(at);
    if (view.getUint32(at + 4) === 0x49444154) compressed += length; // "IDAT"
    at += 12 + length;
  }
  if (pixelBytes > 1032 * compressed + 1024) {
    throw new ZooFormatError(
      file,
      `invalid PNG: ${compressed} bytes of image data cannot hold the ${pixelBytes} bytes of a ` +
        `${width}×${height} image`,
    );
  }
}

/** Unpacks 1-, 2- or 4-bit single-channel samples; each row starts on a byte boundary. */
function unpackSubByteSamples(
  packed: ArrayLike<number>,
  width: number,
  height: number,
  depth: number,
): Uint8Array {
  const out = new Uint8Array(width * height);
  const rowBytes = Math.ceil((width * depth) / 8);
  const mask = (1 << depth) - 1;
  for (let y = 0, p = 0; y < height; y++) {
    for (let x = 0; x < width; x++, p++) {
      const bit = x * depth;
      out[p] = (packed[y * rowBytes + (bit >> 3)] >> (8 - depth - (bit & 7))) & mask;
    }
  }
  return out;
}

// ------------------------------------------------------------------------------------------ GIF

/**
 * omggif parses the block structure; the first frame is decoded here, because omggif trusts
 * the frame's size and LZW code size and can loop forever on a corrupt code table.
 */
function decodeGifImage(bytes: Uint8Array, file: string): RgbImage {
  const reader = attempt(file, "invalid GIF", () => new GifReader(bytes));
  const { width, height } = reader;
  checkPixelCount(file, "GIF", width, height);
  if (reader.numFrames() < 1) throw new ZooFormatError(file, "invalid GIF: no image frames");
  const frame = reader.frameInfo(0);
  if (frame.x + frame.width > width || frame.y + frame.height > height) {
    throw new ZooFormatError(
      file,
      `invalid GIF: frame 0 (${frame.width}×${frame.height} at ${frame.x},${frame.y}) ` +
        `lies outside the ${width}×${height} screen`,
    );
  }
  const paletteOffset = frame.palette_offset;
  const paletteSize = frame.palette_size ?? 0;
  if (paletteOffset === null || paletteOffset + paletteSize * 3 > bytes.length) {
    throw new ZooFormatError(file, "invalid GIF: frame 0 has no complete colour table");
  }
  const indices = decodeGifLzw(bytes, frame.data_offset, frame.width * frame.height, file);
  const transparent = frame.transparent_index ?? -1;
  const rgb = new Uint8Array(width * height * 3);
  const rows = gifRowOrder(frame.height, frame.interlaced);
  for (let r = 0, src = 0; r < frame.height; r++) {
    let dst = ((frame.y + rows[r]) * width + frame.x) * 3;
    for (let x = 0; x < frame.width; x++, src++, dst += 3) {
      const index = indices[src];
      if (index === transparent) continue; // black, as alpha is dropped
      if (index >= paletteSize) {
        throw new ZooFormatError(
          file,
          `invalid GIF: pixel ${src} of frame 0 uses colour ${index}, the table has ${paletteSize}`,
        );
      }
      const color = paletteOffset + index * 3;
      rgb[dst] = bytes[color];
      rgb[dst + 1] = bytes[color + 1];
      rgb[dst + 2] = bytes[color + 2];
    }
  }
  return { width, height, data: rgb };
}

/** The image row of each decoded row: in order, or in the four passes of GIF interlacing. */
function gifRowOrder(height: number, interlaced: boolean): Uint32Array {
  const rows = new Uint32Array(height);
  if (!interlaced) {
    for (let r = 0; r < height; r++) rows[r] = r;
    return rows;
  }
  let r = 0;
  for (const [start, step] of [[0, 8], [4, 8], [2, 4], [1, 2]]) {
    for (let y = start; y < height; y += step) rows[r++] = y;
  }
  return rows;
}

/** GIF's LZW codes are at most 12 bits: a table of 4096 strings. */
const GIF_MAX_CODES = 4096;

/**
 * Decodes a frame's LZW sub-blocks, starting at its minimum-code-size byte, into `count` colour
 * indices. A stream that ends early leaves the remaining pixels 0, as browsers show a truncated
 * GIF; a code that is not yet in the table is an error. Every string's prefix is an earlier
 * code, so following prefixes always ends.
 */
function decodeGifLzw(bytes: Uint8Array, offset: number, count: number, file: string): Uint8Array {
  const minCodeSize = bytes[offset];
  if (!(minCodeSize >= 1 && minCodeSize <= 11)) {
    throw new ZooFormatError(file, `invalid GIF: LZW minimum code size ${minCodeSize} of frame 0`);
  }
  const clear = 1 << minCodeSize;
  const end = clear + 1;
  const prefix = new Uint16Array(GIF_MAX_CODES);
  const suffix = new Uint8Array(GIF_MAX_CODES);
  const first = new Uint8Array(GIF_MAX_CODES);
  const length = new Uint16Array(GIF_MAX_CODES);
  for (let code = 0; code < clear; code++) {
    suffix[code] = first[code] = code;
    length[code] = 1;
  }
  const out = new Uint8Array(count);
  let codeSize = minCodeSize + 1;
  let next = end + 1;
  let previous = -1;
  let written = 0;
  let bits = 0;
  let bitCount = 0;
  let pos = offset + 1;
  let blockLeft = 0;
  while (written < count) {
    while (bitCount < codeSize) {
      if (blockLeft === 0) {
        blockLeft = pos < bytes.length ? bytes[pos++] : 0;
        if (blockLeft === 0) return out; // terminator or truncated file
      }
      if (pos >= bytes.length) return out;
      bits |= bytes[pos++] << bitCount;
      bitCount += 8;
      blockLeft--;
    }
    const code = bits & ((1 << codeSize) - 1);
    bits >>>= codeSize;
    bitCount -= codeSize;
    if (code === clear) {
      codeSize = minCodeSize + 1;
      next = end + 1;
      previous = -1;
      continue;
    }
    if (code === end) break;
    if (code > next || code === next && previous < 0) {
      throw new ZooFormatError(
        file,
        `invalid GIF: LZW code ${code} of frame 0 is not in the table`,
      );
    }
    if (previous >= 0 && next < GIF_MAX_CODES) {
      // The new string is the previous one plus the first index of this one, which for a code
      // not yet in the table (the KwKwK case) is the previous string's own first index.
      prefix[next] = previous;
      suffix[next] = code < next ? first[code] : first[previous];
      first[next] = first[previous];
      length[next] = length[previous] + 1;
      next++;
      if (next === 1 << codeSize && codeSize < 12) codeSize++;
    }
    // Strings are stored back to front: walk the prefixes, writing from the string's end.
    let at = written + length[code];
    for (let c = code; at > written; c = prefix[c]) {
      if (--at < count) out[at] = suffix[c];
    }
    written += length[code];
    previous = code;
  }
  return out;
}

// ----------------------------------------------------------------------------------------- WebP

/** Canvas size from the first chunk of a WebP file, read before libwebp allocates anything. */
function webpDimensions(bytes: Uint8Array, file: string): { width: number; height: number } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const chunk = String.fromCharCode(...bytes.subarray(12, 16));
  if (chunk === "VP8 " && bytes.length >= 30) { // lossy: 14-bit sizes after the frame tag
    return { width: view.getUint16(26, true) & 0x3fff, height: view.getUint16(28, true) & 0x3fff };
  }
  if (chunk === "VP8L" && bytes.length >= 25) { // lossless: 14-bit (size - 1) fields
    const bits = view.getUint32(21, true);
    return { width: (bits & 0x3fff) + 1, height: ((bits >> 14) & 0x3fff) + 1 };
  }
  if (chunk === "VP8X" && bytes.length >= 30) { // extended: 24-bit (size - 1) fields
    const u24 = (at: number): number => bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16);
    return { width: u24(24) + 1, height: u24(27) + 1 };
  }
  throw new ZooFormatError(file, `invalid WebP: unknown or truncated first chunk '${chunk}'`);
}

function decodeWebpImage(bytes: Uint8Array, file: string): RgbImage {
  const size = webpDimensions(bytes, file);
  checkPixelCount(file, "WebP", size.width, size.height);
  if (webp instanceof Error) {
    throw new ZooFormatError(file, `the WebP decoder could not load: ${webp.message}`);
  }
  const { width, height, data } = attempt(file, "invalid WebP", () => webp.decode(bytes));
  return { width, height, data: interleavedToRgb(data, width * height, 4, 0) };
}

/**
 * Splits an image whose every row holds one small image, row-major, into those images: row i
 * becomes image i of `tileWidth`×`tileHeight` pixels. This is the layout of the CIFAR-10 strip
 * `test_1000.png` (1024×1000, one 32×32 image per row). The tiles share the source's buffer.
 *
 * @param image The strip; its width must be `tileWidth * tileHeight`.
 * @param tileWidth Width of each image.
 * @param tileHeight Height of each image.
 * @returns `image.height` images.
 * @throws {RangeError} When a row does not hold exactly one tile.
 *
 * @example
 * ```ts
 * import { decodeImage, splitImageRows } from "./image.ts";
 * const file = "test_1000.png";
 * const cifar = splitImageRows(decodeImage(await Deno.readFile(file), file), 32, 32);
 * console.log(cifar.length, cifar[0].width); // 1000 32
 * ```
 */
export function splitImageRows(image: RgbImage, tileWidth: number, tileHeight: number): RgbImage[] {
  const tilePixels = tileWidth * tileHeight;
  if (!Number.isInteger(tileWidth) || !Number.isInteger(tileHeight) || tilePixels < 1) {
    throw new RangeError(`tile size must be positive integers, got ${tileWidth}×${tileHeight}`);
  }
  if (image.width !== tilePixels) {
    throw new RangeError(
      `image rows are ${image.width} pixels, a ${tileWidth}×${tileHeight} tile needs ${tilePixels}`,
    );
  }
  const rowBytes = tilePixels * 3;
  return Array.from({ length: image.height }, (_, i) => ({
    width: tileWidth,
    height: tileHeight,
    data: image.data.subarray(i * rowBytes, (i + 1) * rowBytes),
  }));
}

// ------------------------------------------------------------------------ command-line arguments

/**
 * Expands command-line image arguments into a list of files, in argument order, without
 * duplicates:
 *
 * - an existing file is kept as given, whatever its extension (the decoder reads magic bytes);
 * - a directory gives every image file below it, recursively, sorted by path;
 * - a pattern with `*` (any run of characters within one path segment), `?` (one character) or
 *   `**` (any number of directories) gives the matching image files, sorted by path.
 *
 * "Image file" means an extension of .jpg, .jpeg, .png, .gif or .webp (any case). Hidden names
 * (starting with ".") are skipped by directory walks and matched only by a pattern segment that
 * starts with "." too, as in a shell.
 * Symbolic links to files are followed; symbolic links to directories are not descended into, so
 * a walk cannot loop.
 *
 * @param args Paths, directories and glob patterns.
 * @returns The image files.
 * @throws {Deno.errors.NotFound} When an argument names nothing, or a directory or pattern
 *   yields no image file.
 *
 * @example
 * ```ts
 * import { expandImageArgs } from "./image.ts";
 * const files = await expandImageArgs(["cat.jpg", "photos", "shots/**\/*.png"]);
 * ```
 */
export async function expandImageArgs(args: string[]): Promise<string[]> {
  const seen = new Set<string>();
  const files: string[] = [];
  for (const arg of args) {
    const found = isGlob(arg) && !(await pathExists(arg))
      ? await globImageFiles(arg)
      : await pathImageFiles(arg);
    if (found.length === 0) throw new Deno.errors.NotFound(`${arg}: no image files found`);
    for (const file of found) {
      if (!seen.has(file)) {
        seen.add(file);
        files.push(file);
      }
    }
  }
  return files;
}

function isGlob(arg: string): boolean {
  return arg.includes("*") || arg.includes("?");
}

function hasImageExtension(path: string): boolean {
  const dot = path.lastIndexOf(".");
  return dot > path.lastIndexOf("/") && IMAGE_EXTENSIONS.has(path.slice(dot + 1).toLowerCase());
}

function joinPath(dir: string, name: string): string {
  if (dir === "") return name;
  return dir.endsWith("/") ? dir + name : `${dir}/${name}`;
}

function sortedUnique(paths: string[]): string[] {
  return [...new Set(paths)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

async function pathExists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** Files below or at `path`; Deno.stat's NotFound error names a missing path. */
async function pathImageFiles(path: string): Promise<string[]> {
  const info = await Deno.stat(path);
  if (!info.isDirectory) return [path];
  const found: string[] = [];
  await walkImageFiles(path, found);
  return sortedUnique(found);
}

/** Kind of a directory entry, following a symbolic link one step (a dangling link is neither). */
async function entryKind(path: string, entry: Deno.DirEntry): Promise<"file" | "dir" | "other"> {
  if (!entry.isSymlink) return entry.isFile ? "file" : entry.isDirectory ? "dir" : "other";
  try {
    return (await Deno.stat(path)).isFile ? "file" : "other";
  } catch {
    return "other";
  }
}

async function walkImageFiles(dir: string, found: string[]): Promise<void> {
  for await (const entry of Deno.readDir(dir)) {
    if (entry.name.startsWith(".")) continue;
    const path = joinPath(dir, entry.name);
    const kind = await entryKind(path, entry);
    if (kind === "dir") await walkImageFiles(path, found);
    else if (kind === "file" && hasImageExtension(path)) found.push(path);
  }
}

function segmentRegExp(segment: string): RegExp {
  const body = [...segment].map((ch) =>
    ch === "*" ? "[^/]*" : ch === "?" ? "[^/]" : ch.replace(/[\\^$.|+()[\]{}]/g, "\\$&")
  ).join("");
  return new RegExp(`^${body}$`);
}

async function globImageFiles(pattern: string): Promise<string[]> {
  const absolute = pattern.startsWith("/");
  const segments = pattern.split("/").filter((s) => s !== "" && s !== ".");
  // A trailing ** means every file below, as **/* does.
  if (segments.at(-1) === "**") segments.push("*");
  const found: string[] = [];
  await matchSegments(absolute ? "/" : "", segments, found);
  return sortedUnique(found);
}

/** Adds to `found` the image files below `dir` ("" is the working directory) that match. */
async function matchSegments(dir: string, segments: string[], found: string[]): Promise<void> {
  const [segment, ...rest] = segments;
  if (segment === "**") {
    await matchSegments(dir, rest, found); // ** as zero directories
    for (const sub of await listEntries(dir, (name) => !name.startsWith("."))) {
      if (sub.kind === "dir") await matchSegments(sub.path, segments, found);
    }
    return;
  }
  let candidates: Entry[];
  if (isGlob(segment)) {
    const regExp = segmentRegExp(segment);
    const dotOk = segment.startsWith(".");
    candidates = await listEntries(
      dir,
      (name) => regExp.test(name) && (dotOk || !name.startsWith(".")),
    );
  } else {
    candidates = await literalEntry(dir, segment);
  }
  for (const { path, kind } of candidates) {
    if (rest.length === 0) {
      if (kind === "file" && hasImageExtension(path)) found.push(path);
    } else if (kind === "dir") {
      await matchSegments(path, rest, found);
    }
  }
}

type Entry = { path: string; kind: "file" | "dir" | "other" };

async function listEntries(dir: string, keep: (name: string) => boolean): Promise<Entry[]> {
  const entries: Entry[] = [];
  try {
    for await (const entry of Deno.readDir(dir === "" ? "." : dir)) {
      if (!keep(entry.name)) continue;
      const path = joinPath(dir, entry.name);
      entries.push({ path, kind: await entryKind(path, entry) });
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory)) {
      throw error;
    }
  }
  return entries;
}

async function literalEntry(dir: string, name: string): Promise<Entry[]> {
  const path = joinPath(dir, name);
  try {
    const info = await Deno.stat(path);
    return [{ path, kind: info.isFile ? "file" : info.isDirectory ? "dir" : "other" }];
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
      return [];
    }
    throw error;
  }
}
