/**
 * Writes the shared CIFAR-10 test images (`testdata/cifar10-test/test_1000.png`) as one NCHW
 * float32 `.npy` batch, normalised as `testdata/fixtures/generate.py` normalises them for
 * torch (RGB/255, ImageNet mean and std): the input of the ResNet-56 parity test and of the
 * memory benchmark. More than 1000 rows repeat the images in order.
 *
 * ```sh
 * deno run -A tools/cifar_npy.ts /tmp/cifar1000.npy          # the 1000 images, 12 MB
 * deno run -A tools/cifar_npy.ts /tmp/cifar5000.npy 5000     # five times over, 61 MB
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import { useBackend } from "../runtime/backend.ts";
import { decodeImage } from "../vision/decode.ts";
import { splitImageRows } from "../vision/tiles.ts";
import { preprocessImages } from "../vision/preprocess.ts";
import { CIFAR10_TORCH } from "../arch/preprocess.ts";
import { npyHeader } from "../formats/npy.ts";
import { writeAtomically } from "../formats/files.ts";

const STRIP = new URL("../testdata/cifar10-test/test_1000.png", import.meta.url);

/** Writes `rows` CIFAR-10 test images (cycling through the 1000) to `path` as NCHW float32. */
export async function writeCifarInput(path: string, rows = 1000): Promise<void> {
  await useBackend("wasm");
  const strip = await decodeImage(await Deno.readFile(STRIP), "test_1000.png");
  const nchw = tf.tidy(() =>
    tf.transpose(preprocessImages(splitImageRows(strip, 32, 32), CIFAR10_TORCH), [0, 3, 1, 2])
  );
  const images = (await nchw.data()) as Float32Array;
  nchw.dispose();
  const perImage = 3 * 32 * 32;
  async function* file(): AsyncGenerator<Uint8Array> {
    yield npyHeader([rows, 3, 32, 32]);
    for (let start = 0; start < rows; start += 1000) {
      const count = Math.min(1000, rows - start);
      yield new Uint8Array(images.buffer, 0, count * perImage * 4);
    }
  }
  await writeAtomically(path, file());
}

if (import.meta.main) {
  const [path, rows] = Deno.args;
  if (!path) {
    console.error("usage: deno run -A tools/cifar_npy.ts OUT.npy [ROWS]");
    Deno.exit(2);
  }
  await writeCifarInput(path, rows === undefined ? 1000 : Number(rows));
}
