/**
 * JPEG decoding: baseline and progressive through jpeg-js, grayscale and CMYK to RGB, with the
 * EXIF orientation applied; the frame header is checked against the file size first.
 *
 * @example
 * ```ts
 * import { decodeJpegImage } from "./jpeg.ts";
 * const file = "testdata/images/grace_hopper.jpg";
 * const image = decodeJpegImage(await Deno.readFile(file), file);
 * console.log(image.width, image.height); // 517 606
 * ```
 *
 * @module
 */

import jpeg from "jpeg-js";
import { ZooFormatError } from "../arch/errors.ts";
import { applyOrientation, exifOrientation } from "./exif.ts";
import { checkPixelCount, decoderStep, MAX_IMAGE_PIXELS, type RgbImage } from "./rgb_image.ts";

/** jpeg-js counts its own allocations against this (RGB output plus coefficient buffers). */
const JPEG_MAX_MEMORY_MB = 2048;

/**
 * Decodes a JPEG file (starting FF D8 FF) to upright 8-bit RGB: the EXIF Orientation tag (1–8)
 * is applied, so the result is as a viewer shows it.
 *
 * @param bytes The file's contents.
 * @param file The file's name, used in error messages only.
 * @returns The decoded image.
 * @throws {ZooFormatError} When the data is malformed or the image is too large.
 *
 * @example
 * ```ts
 * import { decodeJpegImage } from "./jpeg.ts";
 * const file = "testdata/fixtures/images/exif_orientation6.jpg"; // stored 24×16, turned 90°
 * const image = decodeJpegImage(await Deno.readFile(file), file);
 * console.log(image.width, image.height); // 16 24
 * ```
 */
export function decodeJpegImage(bytes: Uint8Array, file: string): RgbImage {
  checkJpegFrameSize(bytes, file);
  const { width, height, data } = decoderStep(file, "invalid JPEG", () =>
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
 * The EXIF orientation of the first APP1 "Exif" segment before the scan data; 1 (upright) when
 * there is none.
 */
function jpegOrientation(bytes: Uint8Array): number {
  for (const { marker, start, end } of jpegSegments(bytes)) {
    const orientation = marker === 0xe1 ? exifOrientation(bytes.subarray(start, end)) : undefined;
    if (orientation !== undefined) return orientation;
  }
  return 1;
}
