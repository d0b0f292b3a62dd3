import * as tf from "@tensorflow/tfjs-core";
import { assert, assertEquals, assertThrows } from "@std/assert";
import { createModel } from "./model.ts";
import { createFeatureEngine } from "./features.ts";
import { useBackend } from "./backend.ts";
import { readZooWeights } from "../convert/zoofile.ts";
import { getSpec } from "../arch/presets.ts";
import { npy, relativeError } from "../tests/helpers.ts";

await useBackend("wasm");

const fixtures = new URL("../testdata/fixtures/features/", import.meta.url).pathname;
const bundledPath = new URL("../models/cifar_resnet20.safetensors", import.meta.url).pathname;
const bundled = readZooWeights(await Deno.readFile(bundledPath), bundledPath);

/** torch's NCHW reference as NHWC, the zoo's layout. */
async function nhwc(name: string): Promise<{ shape: number[]; data: Float32Array }> {
  const ref = await npy(`${fixtures}${name}`);
  const t = tf.transpose(tf.tensor(ref.data, ref.shape), [0, 2, 3, 1]);
  const result = { shape: t.shape, data: (await t.data()) as Float32Array };
  t.dispose();
  return result;
}

const input = await nhwc("resnet20_stages_input.npy");
const x = () => tf.tensor4d(input.data, input.shape as [number, number, number, number]);
const STAGES = ["resnet20_stage1.npy", "resnet20_stage2.npy", "resnet20_stage3.npy"];

Deno.test("features of the bundled ResNet-20: three stage maps equal torch's within 1e-4", async () => {
  const model = createModel(bundled.spec, { weights: bundled.weights, features: {} });
  assertEquals(
    model.featureInfo.map((f) => [f.module, f.channels, f.reduction]),
    [["stage1", 16, 1], ["stage2", 32, 2], ["stage3", 64, 4]],
  );
  const maps = model.predict(x());
  assertEquals(maps.map((m) => m.shape), [[2, 32, 32, 16], [2, 16, 16, 32], [2, 8, 8, 64]]);
  for (const [i, name] of STAGES.entries()) {
    const error = relativeError(await maps[i].data(), (await nhwc(name)).data);
    assert(error < 1e-4, `${name}: relative error ${error}`);
  }
  tf.dispose(maps);
  model.dispose();
});

Deno.test("features: the stem (index 0), the LayersModel and onnxruntime give the same maps", async () => {
  const model = createModel(bundled.spec, {
    weights: bundled.weights,
    features: { outIndices: [0, 2] },
  });
  assertEquals(model.featureInfo.map((f) => f.module), ["stem", "stage2"]);
  // Cut after the last map asked for: stage 3's layers are not part of it.
  assertEquals(model.plan.blocks.length, 6);
  const stem = (await nhwc("resnet20_stem.npy")).data;
  const stage2 = (await nhwc("resnet20_stage2.npy")).data;
  const layers = model.layersModel.predict(x()) as tf.Tensor[];
  const engine = await createFeatureEngine(model, "onnxruntime");
  assertEquals(engine.name, "onnxruntime");
  const ort = await engine.predict(x());
  for (const [name, maps] of [["LayersModel", layers], ["onnxruntime", ort]] as const) {
    assert(relativeError(await maps[0].data(), stem) < 1e-4, `${name}: stem`);
    assert(relativeError(await maps[1].data(), stage2) < 1e-4, `${name}: stage2`);
  }
  tf.dispose([...layers, ...ort]);
  await engine.dispose();
  model.dispose();
});

Deno.test("features of ImageNet nets: strides 4/8/16/32, channels_first maps come NCHW", () => {
  // Keras V2 strides the last block of a stage, so its stages end at 8/16/32/32.
  const expected: Record<string, [number[], number[]]> = {
    resnet18: [[64, 128, 256, 512], [2, 4, 8, 16, 32]],
    keras_resnet50: [[256, 512, 1024, 2048], [2, 4, 8, 16, 32]],
    resnet50v2: [[256, 512, 1024, 2048], [2, 8, 16, 32, 32]],
  };
  for (const [name, [channels, reductions]] of Object.entries(expected)) {
    const model = createModel(name, { features: { outIndices: [0, 1, 2, 3, 4] } });
    assertEquals(model.featureInfo.map((f) => f.reduction), reductions, name);
    assertEquals(model.featureInfo.slice(1).map((f) => f.channels), channels, name);
    const maps = model.predict(tf.zeros([1, 64, 64, 3]));
    assertEquals(maps.map((m) => m.shape[1]), reductions.map((r) => 64 / r), name);
    tf.dispose(maps);
    model.dispose();
  }
  const first = createModel("resnet18", { dataFormat: "channels_first", features: {} });
  const maps = first.predict(tf.zeros([1, 3, 64, 64]));
  assertEquals(maps[3].shape, [1, 512, 2, 2]);
  tf.dispose(maps);
  first.dispose();
});

Deno.test("features: indices out of range or out of order are refused", () => {
  const spec = getSpec("cifar_resnet20");
  const error = assertThrows(
    () => createModel(spec, { features: { outIndices: [2, 1] } }),
    RangeError,
  );
  assertEquals(
    error.message,
    "outIndices must be increasing feature indices from 0 (stem) to 3 (stage3), got [2,1]",
  );
  assertThrows(() => createModel(spec, { features: { outIndices: [4] } }), RangeError);
});
