/**
 * Writes the 1000 CIFAR-10 test images of `testdata/cifar10-test/` as PNG files, for the
 * README's `embed` and `finetune` examples and their tests:
 *
 * ```sh
 * deno run -A tools/cifar_image_folder.ts /tmp/cifar
 * ```
 *
 * makes `/tmp/cifar/train/animal/*.png` and `/tmp/cifar/train/vehicle/*.png` from the first
 * 500 images (a new label set: airplane, automobile, ship and truck are vehicles, the other six
 * classes animals; torchvision's ImageFolder layout) and `/tmp/cifar/test/<animal|vehicle>/`
 * from the other 500. Files are named by image index (`0042.png`).
 *
 * @module
 */

import { encode as encodePng } from "fast-png";
import { decodeImage } from "../vision/decode.ts";
import { splitImageRows } from "../vision/tiles.ts";

const DATA = new URL("../testdata/cifar10-test/", import.meta.url).pathname;

/** CIFAR-10 classes 0 airplane, 1 automobile, 8 ship and 9 truck are vehicles. */
const VEHICLES = new Set([0, 1, 8, 9]);

/** `vehicle` or `animal` for a CIFAR-10 label. */
export function animalOrVehicle(label: number): "animal" | "vehicle" {
  return VEHICLES.has(label) ? "vehicle" : "animal";
}

/** An image's file name: its index, zero-padded to four digits. */
export function imageName(index: number): string {
  return String(index).padStart(4, "0");
}

/**
 * Writes each test image i to `DIR/<place(i, label)>.png` (folders made as needed; null leaves
 * it out) and returns the 1000 labels.
 */
export async function writeCifarImages(
  dir: string,
  place: (index: number, label: number) => string | null,
): Promise<number[]> {
  const strip = await decodeImage(await Deno.readFile(`${DATA}test_1000.png`), "test_1000.png");
  const labels: number[] = JSON.parse(await Deno.readTextFile(`${DATA}test_1000_labels.json`));
  for (const [i, image] of splitImageRows(strip, 32, 32).entries()) {
    const path = place(i, labels[i]);
    if (path === null) continue;
    const file = `${dir}/${path}.png`;
    await Deno.mkdir(file.slice(0, file.lastIndexOf("/")), { recursive: true });
    await Deno.writeFile(
      file,
      encodePng({ width: 32, height: 32, data: image.data.slice(), channels: 3 }),
    );
  }
  return labels;
}

if (import.meta.main) {
  const [dir] = Deno.args;
  if (!dir) throw new Error("usage: cifar_image_folder.ts DIR");
  await writeCifarImages(
    dir,
    (i, label) => `${i < 500 ? "train" : "test"}/${animalOrVehicle(label)}/${imageName(i)}`,
  );
  console.log(`wrote ${dir}/train (images 0–499) and ${dir}/test (500–999)`);
}
