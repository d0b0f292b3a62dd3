import { assert, assertEquals, assertThrows } from "@std/assert";
import { useBackend } from "./backend.ts";
import { trainHead } from "./head.ts";
import { seededRandom } from "../arch/weights.ts";

await useBackend("wasm");

/** Two noisy Gaussian blobs in 8 dimensions; the labels of `flip` rows are swapped. */
function blobs(count: number, seed: number, flip = 0) {
  const random = seededRandom(seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const labels = Array.from({ length: count }, (_, i) => i % 2);
  const x = new Float32Array(count * 8);
  labels.forEach((label, i) => {
    for (let d = 0; d < 8; d++) x[i * 8 + d] = normal() + (d === 0 ? (label ? 1.5 : -1.5) : 0);
  });
  return { x, labels: labels.map((l, i) => (i < flip ? 1 - l : l)) };
}

Deno.test("trainHead: early stopping keeps the epoch of the best validation loss", async () => {
  // Noisy training labels and a long run: the validation loss turns up, and the run stops.
  const head = await trainHead(blobs(200, 1, 60), blobs(100, 2), {
    dimensions: 8,
    classes: 2,
    epochs: 200,
    patience: 5,
    learningRate: 0.1,
    seed: 3,
  });
  const losses = head.history.map((s) => s.valLoss!);
  assertEquals(losses[head.bestEpoch - 1], Math.min(...losses));
  assertEquals(head.history.length, head.bestEpoch + 5);
  assert(head.history.length < 200);
  assert(head.history[head.bestEpoch - 1].valAccuracy! >= 0.8);
  const again = await trainHead(blobs(200, 1, 60), blobs(100, 2), {
    dimensions: 8,
    classes: 2,
    epochs: 200,
    patience: 5,
    learningRate: 0.1,
    seed: 3,
  });
  assertEquals(Array.from(again.kernel), Array.from(head.kernel));
});

Deno.test("trainHead: mismatched rows and labels are refused", async () => {
  const error = await trainHead({ x: new Float32Array(5), labels: [0, 1] }, undefined, {
    dimensions: 2,
    classes: 2,
  }).catch((e) => e);
  assertEquals(error.message, "train: 5 values for 2 rows of 2");
  assertThrows(() => {
    throw error;
  }, RangeError);
});
