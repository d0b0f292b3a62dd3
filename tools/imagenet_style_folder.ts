/**
 * Writes the image set the classification benchmarks run on (`bench/classify_bench.ts`,
 * `bench/torch_classify.py`): no ImageNet images may be downloaded here, so ImageNet-style JPEGs
 * are made from the project's own real pictures — the three shared photos and the 1000 CIFAR-10
 * test images — seeded, so every run makes the same files:
 *
 * ```sh
 * deno run -A tools/imagenet_style_folder.ts /tmp/denozoo-bench
 * ```
 *
 * - `DIR/imagenet-style/0000.jpg` … `0999.jpg`: 500×375 (a quarter of them 375×500, portrait),
 *   JPEG quality 75–95 with 4:2:0 chroma, as most ImageNet validation images are. Each is a
 *   random crop of a photo (flipped half the time, its colours shifted), a CIFAR-10 image
 *   enlarged, or a mosaic of both.
 * - `DIR/calibration/000.jpg` … `099.jpg`: 100 more of the same kind, for `convert --dtype int8
 *   --calibrate` (none of them is among the 1000).
 * - `DIR/big_8000.jpg`: 8000×8000, 256 tiles of 500×500 photo crops at their own detail.
 * - `DIR/phone_12mp.jpg`: 4000×3000 (12 MP), the same kind of mosaic.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import type { Sharp } from "../vision/libvips.ts";
import { loadSharp } from "../vision/libvips.ts";
import { decodeImage } from "../vision/decode.ts";
import { splitImageRows } from "../vision/tiles.ts";
import type { RgbImage } from "../vision/rgb_image.ts";

const TESTDATA = new URL("../testdata/", import.meta.url).pathname;

/** Deterministic numbers in [0, 1) (mulberry32). */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Raw RGB into a sharp pipeline. */
function raw(sharp: Sharp, image: RgbImage) {
  return sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } });
}

/** A random crop (at least `minShare` of each side) of a photo, flipped or not, as raw RGB. */
async function photoCrop(
  sharp: Sharp,
  photo: RgbImage,
  next: () => number,
  width: number,
  height: number,
  minShare = 0.4,
): Promise<Uint8Array> {
  const share = minShare + (1 - minShare) * next();
  const w = Math.max(16, Math.round(photo.width * share));
  const h = Math.max(16, Math.round(photo.height * share));
  const left = Math.floor(next() * (photo.width - w + 1));
  const top = Math.floor(next() * (photo.height - h + 1));
  let pipeline = raw(sharp, photo).extract({ left, top, width: w, height: h })
    .resize(width, height, { fit: "fill" })
    .modulate({
      brightness: 0.8 + 0.4 * next(),
      saturation: 0.7 + 0.6 * next(),
      hue: Math.round(next() * 40 - 20),
    });
  if (next() < 0.5) pipeline = pipeline.flop();
  return new Uint8Array(await pipeline.removeAlpha().raw().toBuffer());
}

/** A CIFAR-10 image enlarged to the size. */
async function cifarEnlarged(sharp: Sharp, tile: RgbImage, width: number, height: number) {
  return new Uint8Array(
    await raw(sharp, tile).resize(width, height, { fit: "fill", kernel: "cubic" }).raw()
      .toBuffer(),
  );
}

/** Tiles of `tile`×`tile` pixels from `pick`, composed into one width×height JPEG file. */
async function mosaic(
  sharp: Sharp,
  file: string,
  width: number,
  height: number,
  tile: number,
  pick: (w: number, h: number) => Promise<Uint8Array>,
  quality: number,
): Promise<void> {
  const parts = [];
  for (let top = 0; top < height; top += tile) {
    for (let left = 0; left < width; left += tile) {
      const w = Math.min(tile, width - left);
      const h = Math.min(tile, height - top);
      const pixels = await pick(w, h);
      parts.push({
        input: Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength),
        raw: { width: w, height: h, channels: 3 as const },
        left,
        top,
      });
    }
  }
  await sharp({ create: { width, height, channels: 3, background: "#000" } })
    .composite(parts).jpeg({ quality, chromaSubsampling: "4:2:0" }).toFile(file);
}

if (import.meta.main) {
  const [dir] = Deno.args;
  if (!dir) throw new Error("usage: imagenet_style_folder.ts DIR");
  const sharp = await loadSharp();
  const photos = await Promise.all(
    ["cat", "fish-bike", "grace_hopper"].map(async (name) => {
      const path = `${TESTDATA}images/${name}.jpg`;
      return await decodeImage(await Deno.readFile(path), path);
    }),
  );
  const stripPath = `${TESTDATA}cifar10-test/test_1000.png`;
  const cifar = splitImageRows(
    await decodeImage(await Deno.readFile(stripPath), stripPath),
    32,
    32,
  );
  const next = random(16);
  const pickPhoto = () => photos[Math.floor(next() * photos.length)];
  const pickCifar = () => cifar[Math.floor(next() * cifar.length)];
  /** One ImageNet-style JPEG: a photo crop, an enlarged CIFAR image or a mosaic of both. */
  const imagenetStyle = async (file: string) => {
    const [width, height] = next() < 0.25 ? [375, 500] : [500, 375];
    const quality = 75 + Math.floor(next() * 21);
    const kind = next();
    if (kind >= 0.8) {
      await mosaic(
        sharp,
        file,
        width,
        height,
        125,
        (w, h) =>
          next() < 0.5
            ? photoCrop(sharp, pickPhoto(), next, w, h)
            : cifarEnlarged(sharp, pickCifar(), w, h),
        quality,
      );
      return;
    }
    const pixels = kind < 0.6
      ? await photoCrop(sharp, pickPhoto(), next, width, height)
      : await cifarEnlarged(sharp, pickCifar(), width, height);
    await sharp(pixels, { raw: { width, height, channels: 3 } })
      .jpeg({ quality, chromaSubsampling: "4:2:0" }).toFile(file);
  };
  for (
    const [folder, count, digits] of [["imagenet-style", 1000, 4], ["calibration", 100, 3]] as const
  ) {
    await Deno.mkdir(`${dir}/${folder}`, { recursive: true });
    for (let i = 0; i < count; i++) {
      await imagenetStyle(`${dir}/${folder}/${String(i).padStart(digits, "0")}.jpg`);
    }
  }
  const crops = (w: number, h: number) => photoCrop(sharp, pickPhoto(), next, w, h, 0.9);
  await mosaic(sharp, `${dir}/big_8000.jpg`, 8000, 8000, 500, crops, 90);
  await mosaic(sharp, `${dir}/phone_12mp.jpg`, 4000, 3000, 500, crops, 90);
  console.log(`wrote ${dir}/imagenet-style/, calibration/, big_8000.jpg and phone_12mp.jpg`);
}
