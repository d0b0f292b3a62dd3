/**
 * What the parity tests share: reading reference arrays and measuring the error
 * against them.
 *
 * @module
 */

import { assertEquals } from "@std/assert";
import { readNpy } from "../formats/npy.ts";

/** A float32 array with its shape, as read from a reference `.npy` file. */
export interface Reference {
  /** Dimensions, outermost first. */
  shape: number[];
  /** Row-major values. */
  data: Float32Array;
}

/** Reads a float32 `.npy` file. */
export async function npy(path: string): Promise<Reference> {
  const t = readNpy(await Deno.readFile(path), path);
  return { shape: t.shape, data: t.data as Float32Array };
}

/** max |actual − expected| / max |expected|: the error relative to the output's scale. */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  assertEquals(actual.length, expected.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return diff / scale;
}
