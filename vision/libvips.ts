/**
 * sharp (libvips, with libjpeg-turbo, libspng, libwebp, libheif/aom and libtiff; prebuilt
 * binaries inside its npm packages), started on first use: importing the vision layer loads no
 * native code, and a sharp that cannot load is reported when the first image is decoded.
 *
 * @example
 * ```ts
 * import { loadSharp } from "./libvips.ts";
 * const sharp = await loadSharp();
 * console.log(typeof sharp.versions.vips); // string
 * ```
 *
 * @module
 */

import type SharpModule from "sharp";

/** sharp's default export: `sharp(input, options)` and its globals (`versions`, `concurrency`). */
export type Sharp = typeof SharpModule;

let sharp: Promise<Sharp> | undefined;

/**
 * sharp, loaded on the first call. Its native addon needs `--allow-ffi` (and read access to
 * Deno's npm cache, where its binaries are).
 *
 * @throws {Error} When the addon cannot load; the message says what to allow.
 *
 * @example
 * ```ts
 * const sharp = await loadSharp();
 * console.log(sharp.concurrency() >= 1); // true
 * ```
 */
export function loadSharp(): Promise<Sharp> {
  sharp ??= import("sharp").then(
    (module) => {
      const loaded = module.default as Sharp;
      // Decoded pixels are used once; libvips' operation cache would only hold on to memory.
      loaded.cache(false);
      return loaded;
    },
    (error: Error) => {
      sharp = undefined;
      throw new Error(
        `the image decoder (npm:sharp, libvips) could not load: ${error.message}` +
          " (it needs --allow-ffi and read access to Deno's npm cache)",
      );
    },
  );
  return sharp;
}
