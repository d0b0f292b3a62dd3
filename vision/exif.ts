/**
 * EXIF orientation: reading the Orientation tag (0x0112) from an APP1 "Exif" payload, and
 * turning or mirroring an image by it so that it is upright as a viewer shows it.
 *
 * @example
 * ```ts
 * import { applyOrientation } from "./exif.ts";
 * // 2×1, red then blue; orientation 6 needs a 90° clockwise turn: 1×2, red on top.
 * const image = { width: 2, height: 1, data: new Uint8Array([255, 0, 0, 0, 0, 255]) };
 * const upright = applyOrientation(image, 6);
 * console.log(upright.width, upright.height, upright.data); // 1 2 Uint8Array(6) [ 255, 0, 0, 0, 0, 255 ]
 * ```
 *
 * @module
 */

import type { RgbImage } from "./rgb_image.ts";

/**
 * Reads the EXIF Orientation tag (0x0112) from IFD0 of an APP1 segment's payload.
 *
 * A broken EXIF block does not make the picture undecodable, and viewers ignore it too, so an
 * unreadable block or a missing or out-of-range tag gives 1 (upright).
 *
 * @param payload The APP1 payload, after the segment's length field.
 * @returns The orientation, 1–8; `undefined` when the payload is not EXIF (XMP, say).
 *
 * @example
 * ```ts
 * import { exifOrientation } from "./exif.ts";
 * // "Exif\0\0", then a little-endian TIFF header and IFD0 with one SHORT entry: Orientation 6.
 * const payload = new Uint8Array([
 *   0x45, 0x78, 0x69, 0x66, 0, 0,
 *   0x49, 0x49, 42, 0, 8, 0, 0, 0,
 *   1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0,
 * ]);
 * console.log(exifOrientation(payload)); // 6
 * console.log(exifOrientation(new TextEncoder().encode("http://ns.adobe.com/xap/1.0/\0"))); // undefined
 * ```
 */
export function exifOrientation(payload: Uint8Array): number | undefined {
  if (payload.length < 6 || !isExifHeader(payload)) return undefined;
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  return tiffOrientation(view, 6, payload.length);
}

function isExifHeader(bytes: Uint8Array): boolean {
  return [0x45, 0x78, 0x69, 0x66, 0, 0].every((b, i) => bytes[i] === b); // "Exif\0\0"
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

/**
 * Turns or mirrors an image by its EXIF orientation, so that it is upright.
 *
 * @param image The image as stored.
 * @param orientation The EXIF orientation, 1–8.
 * @returns The upright image: the same object for orientation 1, else a new one, its width and
 *   height swapped for orientations 5–8.
 *
 * @example
 * ```ts
 * import { applyOrientation } from "./exif.ts";
 * // 2×1, red then blue; orientation 2 is mirrored left-right.
 * const image = { width: 2, height: 1, data: new Uint8Array([255, 0, 0, 0, 0, 255]) };
 * console.log(applyOrientation(image, 2).data); // Uint8Array(6) [ 0, 0, 255, 255, 0, 0 ]
 * ```
 */
export function applyOrientation(image: RgbImage, orientation: number): RgbImage {
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
