/**
 * GIF decoding: the first frame on the logical screen, to 8-bit RGB. omggif parses the block
 * structure; the frame's LZW data is decoded here, because omggif trusts the frame's size and LZW
 * code size and can loop forever on a corrupt code table.
 *
 * @example
 * ```ts
 * import { decodeGifImage } from "./gif.ts";
 * const file = "testdata/fixtures/images/gif_two_frames.gif";
 * const image = decodeGifImage(await Deno.readFile(file), file);
 * console.log(image.width, image.height); // 7 5
 * ```
 *
 * @module
 */

import { GifReader } from "omggif";
import { ZooFormatError } from "../arch/errors.ts";
import { checkPixelCount, decoderStep, type RgbImage } from "./rgb_image.ts";

/**
 * Decodes the first frame of a GIF file (starting "GIF87a" or "GIF89a") to 8-bit RGB, placed on
 * the logical screen; transparent pixels and the screen outside the frame are black.
 *
 * @param bytes The file's contents.
 * @param file The file's name, used in error messages only.
 * @returns The decoded image.
 * @throws {ZooFormatError} When the data is malformed or the image is too large.
 *
 * @example
 * ```ts
 * import { decodeGifImage } from "./gif.ts";
 * const file = "testdata/fixtures/images/gif_two_frames.gif";
 * const image = decodeGifImage(await Deno.readFile(file), file);
 * console.log(image.data.length); // 105
 * ```
 */
export function decodeGifImage(bytes: Uint8Array, file: string): RgbImage {
  const reader = decoderStep(file, "invalid GIF", () => new GifReader(bytes));
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
