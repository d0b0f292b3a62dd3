import { assertEquals, assertRejects, assertStringIncludes } from "@std/assert";
import type * as tf from "@tensorflow/tfjs-core";
import { useBackend } from "../runtime/backend.ts";
import { BatchTooLargeError } from "../runtime/input_check.ts";
import { resolveModel } from "./resolve.ts";
import { openEngine } from "./model_engine.ts";

Deno.test("a graph on tfjs-wasm refuses an NHWC batch too large for the heap, measured in the graph's NCHW", async () => {
  await useBackend("wasm");
  const opened = await openEngine(await resolveModel("testdata/fixtures/onnx_ops/view_op9.onnx"), {
    engine: "tfjs",
  });
  assertEquals(opened.shape.layout, "nchw");
  // Only the shape is read before the refusal: the batch of 2 million images need not exist.
  const huge = { rank: 4, shape: [2_000_000, 16, 16, 3] } as unknown as tf.Tensor4D;
  const error = await assertRejects(() => opened.engine.predict(huge), BatchTooLargeError);
  assertStringIncludes(error.message, "a batch of 2000000 images of 16×16 ");
  assertEquals(error.maxBatch < 2_000_000, true);
  await opened.engine.dispose();
});
