/**
 * A labelled image dataset in torchvision's ImageFolder layout: `ROOT/<class name>/<images>`,
 * classes in sorted order (class i is the i-th folder name), images found below each class
 * folder as `expandImageArgs` finds them. And a seeded, stratified split for validation.
 *
 * @example
 * ```ts
 * import { readImageFolder } from "./image_folder.ts";
 * const dir = await Deno.makeTempDir();
 * for (const [name, file] of [["cats", "cat.jpg"], ["people", "grace_hopper.jpg"]]) {
 *   await Deno.mkdir(`${dir}/${name}`);
 *   await Deno.copyFile(`testdata/images/${file}`, `${dir}/${name}/${file}`);
 * }
 * const folder = await readImageFolder(dir);
 * console.log(folder.classes, folder.samples.map((s) => s.label)); // [ "cats", "people" ] [ 0, 1 ]
 * ```
 *
 * @module
 */

import { seededRandom } from "../arch/weights.ts";
import { expandImageArgs } from "../vision/paths.ts";

/**
 * One labelled image.
 *
 * @example
 * ```ts
 * import type { Sample } from "./image_folder.ts";
 * const sample: Sample = { path: "data/cats/1.jpg", label: 0 };
 * console.log(sample.label); // 0
 * ```
 */
export interface Sample {
  /** The image file. */
  path: string;
  /** Index of its class in {@link ImageFolder.classes}. */
  label: number;
}

/**
 * A dataset read from class folders.
 *
 * @example
 * ```ts
 * import type { ImageFolder } from "./image_folder.ts";
 * const folder: ImageFolder = { root: "data", classes: ["cats", "dogs"], samples: [] };
 * console.log(folder.classes.length); // 2
 * ```
 */
export interface ImageFolder {
  /** The folder read. */
  root: string;
  /** Class names: the class folders' names, sorted. */
  classes: string[];
  /** Every image, class by class, each class's in path order. */
  samples: Sample[];
}

/**
 * Reads `ROOT/<class name>/…` (hidden folders skipped, as in a walk). Refuses, with a message
 * that names the folder, a root without class folders, a single class, and a class folder
 * without images.
 *
 * @example
 * ```ts
 * const dir = await Deno.makeTempDir();
 * await Deno.mkdir(`${dir}/cats`);
 * await readImageFolder(dir).catch((error) => console.log(error.message));
 * // …: only one class folder ('cats'); a classifier needs at least two
 * ```
 */
export async function readImageFolder(root: string): Promise<ImageFolder> {
  const layout = `(finetune reads ${root}/<class name>/<images>: torchvision's ImageFolder layout)`;
  if (!(await Deno.stat(root)).isDirectory) throw new Error(`${root}: not a folder ${layout}`);
  const classes: string[] = [];
  for await (const entry of Deno.readDir(root)) {
    if (entry.name.startsWith(".")) continue;
    const isDir = entry.isDirectory ||
      (entry.isSymlink && (await Deno.stat(`${root}/${entry.name}`)).isDirectory);
    if (isDir) classes.push(entry.name);
  }
  classes.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (classes.length === 0) throw new Error(`${root}: no class folders ${layout}`);
  if (classes.length === 1) {
    throw new Error(
      `${root}: only one class folder ('${classes[0]}'); a classifier needs at least two`,
    );
  }
  const samples: Sample[] = [];
  for (const [label, name] of classes.entries()) {
    let files: string[];
    try {
      files = await expandImageArgs([`${root}/${name}`]);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      throw new Error(
        `${root}/${name}: class '${name}' has no images (.jpg, .jpeg, .png, .gif or .webp)`,
      );
    }
    for (const path of files) samples.push({ path, label });
  }
  return { root, classes, samples };
}

/**
 * Splits samples for validation, class by class: a seeded shuffle of each class, whose first
 * `round(fraction × size)` go to validation (always leaving one for training).
 *
 * @example
 * ```ts
 * const samples = Array.from({ length: 10 }, (_, i) => ({ path: `${i}.jpg`, label: i % 2 }));
 * const { train, val } = splitSamples(samples, 0.2, 1);
 * console.log(train.length, val.length, val.map((s) => s.label)); // 8 2 [ 0, 1 ]
 * ```
 */
export function splitSamples(
  samples: readonly Sample[],
  fraction: number,
  seed = 0,
): { train: Sample[]; val: Sample[] } {
  if (!(fraction >= 0 && fraction < 1)) {
    throw new RangeError(`the validation fraction must be from 0 up to 1, got ${fraction}`);
  }
  const random = seededRandom(seed);
  const train: Sample[] = [];
  const val: Sample[] = [];
  const labels = [...new Set(samples.map((s) => s.label))].sort((a, b) => a - b);
  for (const label of labels) {
    const own = samples.filter((s) => s.label === label);
    for (let i = own.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [own[i], own[j]] = [own[j], own[i]];
    }
    const count = Math.min(Math.round(fraction * own.length), own.length - 1);
    val.push(...own.slice(0, count));
    train.push(...own.slice(count));
  }
  return { train, val };
}
