import { assert, assertEquals, assertRejects } from "@std/assert";
import * as tf from "@tensorflow/tfjs-core";
import { useBackend, wasmThreadCount } from "../runtime/backend.ts";
import { BatchTooLargeError } from "../runtime/input_check.ts";
import { loadGraphModel } from "./graph_model.ts";
import { wasmPreflight } from "./wasm_preflight.ts";

await useBackend("wasm");

/** A graph file loaded as a GraphModel. */
async function load(path: string) {
  return await loadGraphModel(await Deno.readFile(path), path);
}

Deno.test("on wasm, a graph refuses a batch over the budget, naming it and a batch that then runs", async () => {
  const path = "testdata/fixtures/onnx_ops/view_op9.onnx"; // input [batch, 3, 16, 16]
  const graph = await load(path);
  // A budget of 1 MiB stands in for the 2 GiB heap: a few hundred 16×16 images pass it.
  const budget = 2 ** 20;
  const error = await assertRejects(
    () => graph.checkBatch([10_000, 3, 16, 16], budget),
    BatchTooLargeError,
  );
  assert(error.maxBatch > 1 && error.maxBatch < 10_000, `maxBatch ${error.maxBatch}`);
  assert(
    error.message.startsWith(
      `${path}: a batch of 10000 images of 16×16 would run the wasm backend out of memory`,
    ),
    error.message,
  );
  assert(error.message.endsWith(`use batches of at most ${error.maxBatch}`), error.message);
  await graph.checkBatch([error.maxBatch, 3, 16, 16], budget);
  await assertRejects(
    () => graph.checkBatch([error.maxBatch + 1, 3, 16, 16], budget),
    BatchTooLargeError,
  );
  const before = tf.memory().numBytes;
  const y = graph.predict(tf.zeros([error.maxBatch, 3, 16, 16]));
  assertEquals(y.shape, [error.maxBatch, 10]);
  y.dispose();
  // The measured peak is an upper bound of what the batch that fits holds.
  assert(tf.memory().numBytes - before < budget);
  graph.dispose();
});

Deno.test("a graph that fixes its batch is measured on that batch; an input not an image is named by its dims", async () => {
  const graph = await load("testdata/fixtures/checkpoints/audio_3d.onnx"); // input [2, 8, 20]
  await graph.checkBatch([2, 8, 20]); // the default 2 GiB: fits
  const error = await assertRejects(() => graph.checkBatch([2, 8, 20], 256), BatchTooLargeError);
  assert(error.message.includes("a batch of 2 inputs of 8×20 "), error.message);
  assertEquals(error.maxBatch, 1);
  graph.dispose();
});

Deno.test("each input shape is measured once, on wasm only", async () => {
  let runs = 0;
  const check = wasmPreflight("count", (x) => {
    runs++;
    return tf.relu(x);
  }, { layout: "nhwc", batch: null });
  await check([8, 4, 4, 3]);
  await check([64, 4, 4, 3]);
  assertEquals(runs, 1);
  await check([8, 5, 5, 3]);
  assertEquals(runs, 2);
  await useBackend("cpu");
  await check([8, 6, 6, 3], 1);
  assertEquals(runs, 2);
  await useBackend("wasm");
});

// Last: the threaded backend replaces the single-threaded one, with the tensors made on it.
Deno.test("with 2 wasm threads the refusal comes before the batch runs, where an allocation failing in a worker thread would hang", async () => {
  await useBackend("wasm", { wasmThreads: 2 });
  assertEquals(wasmThreadCount(), 2);
  const graph = await load("testdata/keras-mlperf-tiny/resnet8_cifar10.h5");
  // Only the shape is read before the refusal: 40 GiB of activations need no batch to exist.
  const error = await assertRejects(
    () => graph.checkBatch([150_000, 32, 32, 3]),
    BatchTooLargeError,
  );
  assert(error.message.includes("a batch of 150000 images of 32×32 "), error.message);
  const y = graph.predict(tf.zeros([Math.min(error.maxBatch, 64), 32, 32, 3]));
  assertEquals(y.shape, [Math.min(error.maxBatch, 64), 10]);
  y.dispose();
  graph.dispose();
});
