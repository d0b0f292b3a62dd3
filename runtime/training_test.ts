import * as tf from "@tensorflow/tfjs-core";
import { assertEquals, assertRejects, assertStringIncludes } from "@std/assert";
import { createModel } from "./model.ts";
import { useBackend } from "./backend.ts";
import { trainingProblem } from "./training.ts";
import { getSpec } from "../arch/presets.ts";

Deno.test("wasm is refused with the kernel it lacks, which is why its fit fails; cpu has the gradients", async () => {
  await useBackend("wasm");
  assertEquals(
    trainingProblem(),
    "backend 'wasm' cannot train a ResNet: it has no kernel 'Conv2DBackpropFilter' " +
      "(the gradient of a convolution's filter); train on 'cpu', or 'webgpu' on a GPU",
  );
  const model = createModel({ ...getSpec("cifar_resnet20"), depths: [1, 1, 1] }, { seed: 1 });
  const layers = model.layersModel;
  layers.compile({ optimizer: tf.train.sgd(0.01), loss: "categoricalCrossentropy" });
  const x = tf.randomNormal([2, 32, 32, 3], 0, 1, "float32", 3);
  const y = tf.oneHot(tf.tensor1d([0, 1], "int32"), 10);
  const error = await assertRejects(() => layers.fit(x, y, { epochs: 1, verbose: 0 }));
  assertStringIncludes((error as Error).message, "'Conv2DBackpropFilter' not registered");
  model.dispose();
  await useBackend("cpu");
  assertEquals(trainingProblem(), undefined);
  await useBackend("wasm");
});
