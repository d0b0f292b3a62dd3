import * as tf from "@tensorflow/tfjs-core";
import { assert, assertEquals, assertRejects } from "@std/assert";
import {
  type Classifier,
  classifyFiles,
  classifyImages,
  classifyStream,
  topK,
} from "./classify.ts";
import type { DecodeStage } from "./decode_stage.ts";
import { loadClassifier } from "./load.ts";
import { useBackend } from "../runtime/backend.ts";
import { BatchTooLargeError } from "../runtime/input_check.ts";
import { decodeImage } from "../vision/decode.ts";
import { preprocessImages } from "../vision/preprocess.ts";
import { PREPROCESS_PRESETS } from "../arch/preprocess.ts";

await useBackend("wasm");

const CAT = "testdata/images/cat.jpg";
const FISH = "testdata/images/fish-bike.jpg";

Deno.test("classifyFiles returns one result per file in input order; bad files carry an error", async () => {
  const dir = await Deno.makeTempDir();
  const truncated = `${dir}/truncated.jpg`;
  await Deno.writeFile(truncated, (await Deno.readFile(CAT)).subarray(0, 20_000));
  const missing = `${dir}/missing.jpg`;
  const classifier = await loadClassifier(undefined, { engine: "tfjs" });
  try {
    const batches: string[][] = [];
    const results = await classifyFiles(classifier, [CAT, truncated, missing, FISH, CAT], {
      top: 1,
      batch: 2,
      onBatch: (results, done, total) =>
        batches.push([...results.map((r) => r.image), `${done}/${total}`]),
    });
    assertEquals(results.map((r) => r.image), [CAT, truncated, missing, FISH, CAT]);
    assertEquals(results.map((r) => r.predictions[0]?.label), [
      "cat",
      undefined,
      undefined,
      "bird",
      "cat",
    ]);
    assertEquals(
      results[1].error,
      `${truncated}: invalid JPEG image: corrupt or truncated data (libvips stopped decoding it)`,
    );
    assert(results[2].error!.startsWith(`${missing}: No such file or directory`), results[2].error);
    assertEquals(results[1].predictions, []);
    // A batch closes once it holds two images; the failures in between go with it.
    assertEquals(batches, [[CAT, truncated, missing, FISH, "4/5"], [CAT, "5/5"]]);
  } finally {
    await classifier.engine.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the decode stage is replaceable, and its failures are results too", async () => {
  const classifier = await loadClassifier(undefined, { engine: "tfjs" });
  const image = await decodeImage(await Deno.readFile(CAT), CAT);
  const stage: DecodeStage = async function* (paths) {
    for (const path of paths) {
      yield path === "bad" ? { path, error: "bad: refused by this stage" } : { path, image };
    }
  };
  const seen = [];
  for await (
    const result of classifyStream(classifier, ["a", "bad", "b"], { top: 1, decode: stage })
  ) {
    seen.push([result.image, result.error ?? result.predictions[0].label]);
  }
  assertEquals(seen, [["a", "cat"], ["bad", "bad: refused by this stage"], ["b", "cat"]]);
  await classifier.engine.dispose();
});

Deno.test("classifyImages and classifyFiles take one options object, and refuse anything else by name", async () => {
  const classifier = await loadClassifier(undefined, { engine: "tfjs" });
  const image = await decodeImage(await Deno.readFile(CAT), CAT);
  const [predictions] = await classifyImages(classifier, [image], { top: 2 });
  assertEquals(predictions.map((p) => p.label), ["cat", "dog"]);
  await assertRejects(
    () => classifyImages(classifier, [image], 1 as unknown as { top: number }),
    TypeError,
    "classifyImages takes an options object such as { top: 5 }, got 1",
  );
  await assertRejects(
    () => classifyFiles(classifier, [CAT], { top: 0 }),
    RangeError,
    "classifyFiles: top must be a positive integer, got 0",
  );
  await assertRejects(
    () => classifyFiles(classifier, [CAT], { batch: 1.5 }),
    RangeError,
    "classifyFiles: batch must be a positive integer, got 1.5",
  );
  await classifier.engine.dispose();
});

Deno.test("a model that ends in a softmax reports its own probabilities", async () => {
  const path = "testdata/keras-mlperf-tiny/resnet8_cifar10.h5";
  const classifier = await loadClassifier(path, { preprocess: PREPROCESS_PRESETS.CIFAR10_RAW });
  assertEquals(classifier.outputs, "probabilities");
  const image = await decodeImage(await Deno.readFile(CAT), CAT);
  const [predictions] = await classifyImages(classifier, [image], { top: 10 });
  const x = preprocessImages([image], classifier.preprocess);
  const output = (await (await classifier.engine.predict(x)).data()) as Float32Array;
  for (const { index, probability } of predictions) {
    assert(
      Math.abs(probability - output[index]) < 1e-6,
      `${index}: ${probability} vs ${output[index]}`,
    );
  }
  assertEquals(predictions[0].label, "cat");
  await classifier.engine.dispose();
});

Deno.test("topK softmaxes logits, and leaves probabilities as they are", async () => {
  const scores = tf.tensor2d([[0.1, 0.7, 0.2]]);
  const [fromLogits] = await topK(scores, 1, ["a", "b", "c"]);
  const [asIs] = await topK(scores, 1, ["a", "b", "c"], "probabilities");
  assertEquals(asIs[0], { index: 1, label: "b", probability: Math.fround(0.7) });
  assert(Math.abs(fromLogits[0].probability - 0.46396) < 1e-5, String(fromLogits[0].probability));
  scores.dispose();
});

Deno.test("a Classifier made by hand needs no outputs field: logits are softmaxed", async () => {
  const classifier: Classifier = {
    name: "by hand",
    engine: {
      name: "fixed",
      predict: () => Promise.resolve(tf.tensor2d([[0, Math.log(3)]])),
      dispose: () => Promise.resolve(),
    },
    preprocess: PREPROCESS_PRESETS.CIFAR10_RAW,
    labels: ["no", "yes"],
  };
  const image = await decodeImage(await Deno.readFile(CAT), CAT);
  const [[best]] = await classifyImages(classifier, [image], { top: 1 });
  assertEquals(best.label, "yes");
  assert(Math.abs(best.probability - 0.75) < 1e-6);
});

Deno.test("a batch refused as too large for the wasm heap names the batch size that fits", async () => {
  const classifier: Classifier = {
    name: "refusing",
    engine: {
      name: "tfjs-wasm (2 threads)",
      predict: () =>
        Promise.reject(new BatchTooLargeError("net", 2, "images of 32×32", 2 ** 31, 1)),
      dispose: () => Promise.resolve(),
    },
    preprocess: PREPROCESS_PRESETS.CIFAR10_RAW,
    labels: ["no", "yes"],
  };
  const image = await decodeImage(await Deno.readFile(CAT), CAT);
  const before = tf.memory().numTensors;
  await assertRejects(
    () => classifyImages(classifier, [image, image]),
    Error,
    "a batch of 2 images would run tfjs-wasm (2 threads) out of memory: " +
      "lower the batch size (--batch, or the batch option) to at most 1",
  );
  // Refused before it ran: the batch is freed, as the heap still works.
  assertEquals(tf.memory().numTensors, before);
});
