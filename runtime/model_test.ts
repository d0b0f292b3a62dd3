import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { assert, assertEquals, assertThrows } from "@std/assert";
import { createModel } from "./model.ts";
import { getSpec, listArchitectures, withOptionB } from "../arch/presets.ts";
import { countParams, planResNet } from "../arch/plan.ts";
import { useBackend } from "./backend.ts";
import { BatchTooLargeError } from "./input_check.ts";
import type { WeightMap } from "../arch/weights.ts";
import type { ResNetSpec } from "../arch/spec.ts";
import { npy, relativeError } from "../tests/helpers.ts";
import { readZooWeights } from "../convert/zoofile.ts";

await useBackend("wasm");

/** The counts each source framework reports (torch: parameters(); Keras: count_params()). */
const PARAMETER_COUNTS: Record<string, number> = {
  resnet18: 11_689_512,
  resnet34: 21_797_672,
  resnet50: 25_557_032,
  resnet101: 44_549_160,
  resnet152: 60_192_808,
  keras_resnet50: 25_636_712,
  keras_resnet101: 44_707_176,
  keras_resnet152: 60_419_944,
  resnet50v2: 25_613_800,
  resnet101v2: 44_675_560,
  resnet152v2: 60_380_648,
  cifar_resnet20: 269_722,
  cifar_resnet32: 464_154,
  cifar_resnet44: 658_586,
  cifar_resnet56: 853_018,
  cifar_resnet110: 1_727_962,
  // torchvision's Weights enums (num_params) and timm's (issue 18).
  resnext50_32x4d: 25_028_904,
  resnext101_32x8d: 88_791_336,
  resnext101_64x4d: 83_455_272,
  wide_resnet50_2: 68_883_240,
  wide_resnet101_2: 126_886_696,
  resnet26d: 16_014_408,
  resnet50d: 25_576_264,
  seresnet50: 28_088_024,
};

Deno.test("parameter counts match the source frameworks", () => {
  for (const [name, expected] of Object.entries(PARAMETER_COUNTS)) {
    const spec = getSpec(name);
    const counts = countParams(planResNet(spec));
    const reported = spec.naming.countsStatistics ? counts.total : counts.trainable;
    assertEquals(reported, expected, name);
  }
  assert(listArchitectures().includes("resnet18v2"));
  assert(listArchitectures().includes("resnet34v2"));
});

Deno.test("CIFAR option B adds projection shortcuts", () => {
  const b = countParams(planResNet(withOptionB(getSpec("cifar_resnet20"))));
  // Two projections (16→32, 32→64): 1×1 convs plus BN gamma/beta.
  assertEquals(b.trainable, 269_722 + 16 * 32 + 2 * 32 + 32 * 64 + 2 * 64);
});

/** Random BN statistics so folding is really exercised. */
function randomiseStatistics(weights: WeightMap, seed: number): WeightMap {
  let state = seed;
  const random = () => ((state = (state * 1103515245 + 12345) % 2147483648) / 2147483648);
  for (const [name, w] of weights) {
    if (name.endsWith("/kernel")) continue;
    const variance = name.endsWith("moving_variance") || name.endsWith("gamma");
    for (let i = 0; i < w.data.length; i++) {
      w.data[i] = variance ? 0.5 + random() : 0.4 * (random() - 0.5);
    }
  }
  return weights;
}

Deno.test("output shapes for input sizes, heads and data formats", () => {
  const cases: [string, Parameters<typeof createModel>[1], number[], number[]][] = [
    ["resnet18", {}, [1, 64, 64, 3], [1, 1000]],
    ["resnet18", { includeTop: false }, [2, 96, 64, 3], [2, 3, 2, 512]],
    ["resnet18", { includeTop: false, pooling: "max" }, [1, 33, 47, 3], [1, 512]],
    ["resnet50", { includeTop: false, pooling: "avg" }, [1, 64, 64, 3], [1, 2048]],
    ["resnet50v2", { classes: 7 }, [1, 32, 32, 3], [1, 7]],
    ["cifar_resnet20", {}, [3, 32, 32, 3], [3, 10]],
    ["cifar_resnet20", { dataFormat: "channels_first" }, [3, 3, 32, 32], [3, 10]],
    ["keras_resnet50", { includeTop: false, dataFormat: "channels_first" }, [1, 3, 64, 64], [
      1,
      2,
      2,
      2048,
    ]],
  ];
  for (const [name, options, inputShape, outputShape] of cases) {
    const model = createModel(name, options);
    const y = model.predict(tf.zeros(inputShape as [number, number, number, number]));
    assertEquals(y.shape, outputShape, `${name} ${JSON.stringify(options)}`);
    y.dispose();
    model.dispose();
  }
});

Deno.test("inputShape below 32 is refused with a clear error", () => {
  const error = assertThrows(() => createModel("resnet18", { inputShape: [31, 64] }), RangeError);
  assertEquals(error.message, "inputShape must be at least 32×32, got [31,64]");
});

Deno.test("channels_first input gives the channels_last result", async () => {
  const last = createModel("resnet18v2", { seed: 5 });
  randomiseStatistics(last.weights, 5);
  const first = createModel("resnet18v2", {
    weights: last.weights,
    dataFormat: "channels_first",
    inputShape: [40, 48],
  });
  const x = tf.randomNormal([2, 40, 48, 3], 0, 1, "float32", 1) as tf.Tensor4D;
  const a = await last.predict(x).data();
  const b = await first.predict(tf.transpose(x, [0, 3, 1, 2])).data();
  assert(relativeError(b, a) < 1e-6);
  const layers = await (first.layersModel.predict(tf.transpose(x, [0, 3, 1, 2])) as tf.Tensor)
    .data();
  assert(relativeError(layers, a) < 1e-5);
  last.dispose();
  first.dispose();
});

Deno.test("folded inference equals the LayersModel within 1e-5", async () => {
  for (const name of ["cifar_resnet20", "resnet18", "keras_resnet50", "resnet50v2", "resnet18v2"]) {
    const model = createModel(name, { seed: 7, inputShape: [64, 64] });
    randomiseStatistics(model.weights, 7);
    const x = tf.randomNormal([2, 64, 64, 3], 0, 1, "float32", 2) as tf.Tensor4D;
    const folded = await model.predict(x).data();
    const reference = await (model.layersModel.predict(x) as tf.Tensor).data();
    const rel = relativeError(folded, reference);
    assert(rel < 1e-5, `${name}: relative difference ${rel}`);
    model.dispose();
  }
});

/** Small nets of each family option, so that the LayersModel runs in a second. */
const SMALL = { widths: [8, 16, 24, 32], stemWidth: 16, depths: [1, 2, 1, 1] };
const FAMILY_CASES: [string, ResNetSpec][] = [
  ["resnext (groups 4, base width 16)", {
    ...getSpec("resnext50_32x4d"),
    ...SMALL,
    groups: 4,
    baseWidth: 16,
  }],
  ["wide (base width 128)", { ...getSpec("wide_resnet50_2"), ...SMALL }],
  ["resnet-d (deep stem, pooled projections)", { ...getSpec("resnet50d"), ...SMALL }],
  ["tiered stem, SE after the 3×3", {
    ...getSpec("seresnet50"),
    ...SMALL,
    stem: "deepTiered",
    attentionAt: "mid",
    seDivisor: 1,
    seReduction: 4,
  }],
  ["eca, 5 taps on 128 channels", { ...getSpec("ecaresnet50d"), ...SMALL }],
  ["TF official v2 (basic, projection on every stage)", { ...getSpec("tf_resnet18_v2"), ...SMALL }],
  ["BiT (GroupNorm, weight standardisation)", {
    ...getSpec("resnetv2_50x1_bit"),
    ...SMALL,
    normGroups: 4,
  }],
];

Deno.test("folded inference equals the LayersModel on the family's options", async () => {
  for (const [what, spec] of FAMILY_CASES) {
    // 40 pixels leave odd maps (5, 3) where pooled projections downsample.
    const model = createModel(spec, { seed: 9, inputShape: [40, 40] });
    randomiseStatistics(model.weights, 9);
    const x = tf.randomNormal([2, 40, 40, 3], 0, 1, "float32", 5) as tf.Tensor4D;
    const folded = await model.predict(x).data();
    const reference = await (model.layersModel.predict(x) as tf.Tensor).data();
    const rel = relativeError(folded, reference);
    assert(rel < 1e-5, `${what}: relative difference ${rel}`);
    model.dispose();
  }
});

Deno.test("the TF-official v2 preset runs in both data formats with TF's layer names", async () => {
  const last = createModel("tf_resnet18_v2", { seed: 3 });
  randomiseStatistics(last.weights, 3);
  const first = createModel("tf_resnet18_v2", {
    weights: last.weights,
    dataFormat: "channels_first",
  });
  const x = tf.randomNormal([1, 64, 64, 3], 0, 1, "float32", 6) as tf.Tensor4D;
  const a = await last.predict(x).data();
  const b = await first.predict(tf.transpose(x, [0, 3, 1, 2])).data();
  assertEquals(a.length, 1001);
  assert(relativeError(b, a) < 1e-6);
  last.dispose();
  first.dispose();
  // The trainable LayersModel of a narrow TF-official v2, channels_first as TF on a GPU.
  const narrow = createModel({ ...getSpec("tf_resnet18_v2"), ...SMALL }, {
    seed: 4,
    inputShape: [40, 40],
    dataFormat: "channels_first",
  });
  const names = narrow.layersModel.layers.map((l) => l.name);
  for (const name of ["conv_initial", "pool_initial", "block_layer1_block1_projection"]) {
    assert(names.includes(name), name);
  }
  assert(names.includes("block_layer4_block1_conv2") && names.includes("final_dense"));
  const nchw = tf.randomNormal([1, 3, 40, 40], 0, 1, "float32", 7) as tf.Tensor4D;
  const layers = await (narrow.layersModel.predict(nchw) as tf.Tensor).data();
  assert(relativeError(layers, await narrow.predict(nchw).data()) < 1e-5);
  narrow.dispose();
});

Deno.test("the folded path does not leak tensors", () => {
  const model = createModel("cifar_resnet20");
  const x = tf.zeros([1, 32, 32, 3]) as tf.Tensor4D;
  model.predict(x).dispose();
  const before = tf.memory().numTensors;
  for (let i = 0; i < 100; i++) model.predict(x).dispose();
  assertEquals(tf.memory().numTensors, before);
  model.dispose();
});

Deno.test("the LayersModel trains and saves in the tfjs layers format", async () => {
  // Gradients of conv2d exist on cpu only; a ResNet-8 (a spec made of data) keeps it quick.
  await useBackend("cpu");
  const model = createModel({
    ...getSpec("cifar_resnet20"),
    name: "cifar_resnet8",
    depths: [1, 1, 1],
  }, {
    seed: 1,
  });
  const layers = model.layersModel;
  layers.compile({ optimizer: tf.train.sgd(0.01), loss: "categoricalCrossentropy" });
  const x = tf.randomNormal([4, 32, 32, 3], 0, 1, "float32", 3);
  const y = tf.oneHot(tf.tensor1d([0, 1, 2, 3], "int32"), 10);
  const history = await layers.fit(x, y, { epochs: 1, batchSize: 4, verbose: 0 });
  assert(Number.isFinite(history.history.loss[0] as number));
  let saved: tf.io.ModelArtifacts | null = null;
  await layers.save(tf.io.withSaveHandler((artifacts) => {
    saved = artifacts;
    return Promise.resolve({
      modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" },
    });
  }));
  const artifacts = saved! as tf.io.ModelArtifacts;
  const names = artifacts.weightSpecs!.map((w) => w.name);
  assert(names.includes("conv1/kernel"));
  assert(names.includes("layer3.0.bn2/moving_variance"));
  const reloaded = await tfl.loadLayersModel(tf.io.fromMemory(artifacts));
  const a = await (layers.predict(x) as tf.Tensor).data();
  const b = await (reloaded.predict(x) as tf.Tensor).data();
  assertEquals(Array.from(b), Array.from(a));
  // After training, predict follows the trained weights once synchronised.
  model.syncFromLayersModel();
  const folded = await model.predict(x as tf.Tensor4D).data();
  assert(relativeError(folded, a) < 1e-5);
  model.dispose();
  await useBackend("wasm");
});

Deno.test("cpu, wasm and webgpu agree within 1e-4", async () => {
  const reference = createModel("cifar_resnet20", { seed: 11 });
  randomiseStatistics(reference.weights, 11);
  const x = tf.randomNormal([2, 32, 32, 3], 0, 1, "float32", 4);
  const input = { data: await x.data(), shape: x.shape };
  const outputs: Record<string, Float32Array> = {};
  for (const backend of ["cpu", "wasm", "webgpu"] as const) {
    assertEquals(await useBackend(backend), backend);
    const model = createModel("cifar_resnet20", { weights: reference.weights });
    const y = model.predict(
      tf.tensor4d(input.data, input.shape as [number, number, number, number]),
    );
    outputs[backend] = (await y.data()) as Float32Array;
    model.dispose();
  }
  await useBackend("wasm");
  assert(relativeError(outputs.wasm, outputs.cpu) < 1e-4);
  assert(relativeError(outputs.webgpu, outputs.cpu) < 1e-4);
});

// --- Heads on pretrained weights --------------------------------------------------------------

const BUNDLED = new URL("../models/cifar_resnet20.safetensors", import.meta.url).pathname;
const FEATURES = new URL("../testdata/fixtures/features/", import.meta.url).pathname;

/** The bundled ResNet-20's weights, and torch's inputs (two test images, NHWC) and features. */
async function bundledWithReference() {
  const file = readZooWeights(await Deno.readFile(BUNDLED), BUNDLED);
  const input = await npy(`${FEATURES}resnet20_stages_input.npy`);
  const nchw = tf.tensor4d(input.data, input.shape as [number, number, number, number]);
  const x = tf.transpose(nchw, [0, 2, 3, 1]);
  const pooled = await npy(`${FEATURES}resnet20_pooled.npy`);
  return { file, x, pooled: pooled.data.subarray(0, 2 * 64) };
}

Deno.test("pretrained weights without their head: includeTop false gives torch's pooled features", async () => {
  const { file, x, pooled } = await bundledWithReference();
  const model = createModel(file.spec, {
    weights: file.weights,
    includeTop: false,
    pooling: "avg",
  });
  assertEquals(model.weights.has("linear/kernel"), false);
  const features = model.predict(x);
  assertEquals(features.shape, [2, 64]);
  const error = relativeError(await features.data(), pooled);
  assert(error < 1e-4, `relative error ${error}`);
  model.dispose();
});

Deno.test("classes: 2 keeps the pretrained backbone and starts a fresh, seeded 2-class head", async () => {
  const { file, x, pooled } = await bundledWithReference();
  const model = createModel(file.spec, { weights: file.weights, classes: 2, seed: 3 });
  assertEquals(model.spec.classes, 2);
  assertEquals(model.weights.get("linear/kernel")?.shape, [64, 2]);
  assertEquals(
    model.weights.get("layer3.2.conv2/kernel"),
    file.weights.get("layer3.2.conv2/kernel"),
  );
  const again = createModel(file.spec, { weights: file.weights, classes: 2, seed: 3 });
  const other = createModel(file.spec, { weights: file.weights, classes: 2, seed: 4 });
  const kernel = (m: typeof model) => Array.from(m.weights.get("linear/kernel")!.data);
  assertEquals(kernel(again), kernel(model));
  assert(kernel(other).some((v, i) => v !== kernel(model)[i]));
  // The logits are the pooled features through the new head.
  const logits = await model.predict(x).data();
  const w = model.weights.get("linear/kernel")!.data;
  const expected = [0, 1].flatMap((n) =>
    [0, 1].map((k) => {
      let sum = 0;
      for (let c = 0; c < 64; c++) sum += pooled[n * 64 + c] * w[c * 2 + k];
      return sum;
    })
  );
  assert(relativeError(logits, expected) < 1e-4);
  // Ten classes, as the weights have: the pretrained head is kept.
  const ten = createModel(file.spec, { weights: file.weights, classes: 10 });
  assertEquals(ten.weights.get("linear/kernel"), file.weights.get("linear/kernel"));
  for (const m of [model, again, other, ten]) m.dispose();
});

Deno.test("resetClassifier replaces the head, or removes it with 0", async () => {
  const { file, x, pooled } = await bundledWithReference();
  const model = createModel(file.spec, { weights: file.weights, labels: cifar10Names() });
  assertEquals(model.predict(x).shape, [2, 10]);
  model.resetClassifier(3, { seed: 1, labels: ["a", "b", "c"] });
  assertEquals(model.predict(x).shape, [2, 3]);
  assertEquals(model.spec.classes, 3);
  assertEquals(model.labels, ["a", "b", "c"]);
  assertEquals(model.layersModel.outputs[0].shape, [null, 3]);
  model.resetClassifier(0);
  const features = model.predict(x);
  assertEquals(features.shape, [2, 64]);
  assert(relativeError(await features.data(), pooled) < 1e-4);
  assertEquals(model.labels, undefined);
  assertThrows(() => model.resetClassifier(2, { labels: ["one"] }), RangeError, "1 names for 2");
  model.dispose();
});

function cifar10Names(): string[] {
  return ["airplane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];
}

Deno.test("weights that still do not fit are refused, naming the tensor", async () => {
  const { file } = await bundledWithReference();
  const deeper = assertThrows(() => createModel("cifar_resnet32", { weights: file.weights }));
  assertEquals(
    deeper.message,
    "weights: missing tensor 'layer1.3.conv1/kernel' (shape [3,3,16,16])",
  );
  const stray = new Map(file.weights).set("extra/kernel", {
    shape: [1],
    data: new Float32Array(1),
  });
  const unexpected = assertThrows(() =>
    createModel(file.spec, { weights: stray, includeTop: false })
  );
  assertEquals(unexpected.message, "weights: unexpected tensor 'extra/kernel'");
  const seven = createModel(file.spec, { weights: file.weights, classes: 7 }).weights;
  const head = assertThrows(() => createModel(file.spec, { weights: seven }));
  assertEquals(
    head.message,
    "weights: tensor 'linear/kernel' has shape [64,7], expected [64,10] (a new classifier needs `classes`)",
  );
});

Deno.test("a first predict inside tf.tidy compiles weights that outlive the tidy", async () => {
  await useBackend("cpu");
  const model = createModel("cifar_resnet20", { seed: 2 });
  const features = createModel("cifar_resnet20", { seed: 2, features: {} });
  const x = tf.zeros([1, 32, 32, 3]) as tf.Tensor4D;
  const first = await tf.tidy(() => model.predict(x).clone()).data();
  tf.tidy(() => features.predict(x));
  const second = await model.predict(x).data();
  assertEquals(Array.from(second), Array.from(first));
  assertEquals(features.predict(x).length, 3);
  model.dispose();
  features.dispose();
  await useBackend("wasm");
});

Deno.test("predict holds a few activations at a time: peak memory does not grow with depth", async () => {
  const peak = async (name: string) => {
    const model = createModel(name);
    const x = tf.zeros([8, 32, 32, 3]) as tf.Tensor4D;
    model.predict(x).dispose(); // weights uploaded before measuring
    const held = tf.memory().numBytes; // weights and input
    const { peakBytes, newTensors } = await tf.profile(() => model.predict(x).dispose());
    x.dispose();
    model.dispose();
    assertEquals(newTensors, 0);
    return peakBytes - held;
  };
  const resnet20 = await peak("cifar_resnet20");
  const resnet110 = await peak("cifar_resnet110");
  // Holding every layer's activations, ResNet-110 took 5.5 times ResNet-20's peak.
  assert(resnet110 < 1.2 * resnet20, `peak ${resnet110} bytes against ${resnet20}`);
});

Deno.test("a batch of the wrong rank or layout is explained, naming the fix", () => {
  const model = createModel("cifar_resnet20");
  const rank = assertThrows(
    () => model.predict(tf.zeros([32, 32, 3]) as unknown as tf.Tensor4D),
    RangeError,
  );
  assertEquals(
    rank.message,
    "cifar_resnet20.predict: expected a 4-D batch [batch, height, width, channels], got shape [32,32,3] (3-D): add a batch axis",
  );
  const layout = assertThrows(
    () => model.predict(tf.zeros([2, 3, 32, 32]) as tf.Tensor4D),
    RangeError,
  );
  assertEquals(
    layout.message,
    'cifar_resnet20.predict: expected a batch [batch, height, width, channels] with 3 channels last, got shape [2,3,32,32]: it looks NCHW (3 channels on axis 1); create the model with dataFormat: "channels_first"',
  );
  model.dispose();
});

Deno.test("invalid model options are refused by name", () => {
  const cases: [Parameters<typeof createModel>[1], string][] = [
    [{ includeTop: false, pooling: "mean" as "avg" }, 'pooling must be "avg" or "max", got "mean"'],
    [{ classes: 0 }, "classes must be a positive integer, got 0"],
    [{ classes: 2.5 }, "classes must be a positive integer, got 2.5"],
    [{ includeTop: "no" as unknown as boolean }, 'includeTop must be true or false, got "no"'],
    [
      { dataFormat: "NCHW" as "channels_first" },
      'dataFormat must be "channels_last" or "channels_first", got "NCHW"',
    ],
  ];
  for (const [options, message] of cases) {
    assertEquals(assertThrows(() => createModel("resnet18", options), RangeError).message, message);
  }
});

Deno.test("on wasm, a batch too large for the heap is refused before it runs, naming one that fits", () => {
  const model = createModel("resnet50");
  model.predict(tf.zeros([1, 64, 64, 3]) as tf.Tensor4D).dispose();
  // Only the shape is read before the refusal: no 300 MB batch needs to exist for the test.
  const huge = { shape: [400, 224, 224, 3] } as unknown as tf.Tensor4D;
  const error = assertThrows(() => model.predict(huge), BatchTooLargeError);
  assertEquals(error.maxBatch, 159);
  assertEquals(
    error.message,
    "resnet50: a batch of 400 images of 224×224 would run the wasm backend out of memory " +
      "(5.0 GiB of activations at its peak; its heap ends at 4 GiB): use batches of at most 159",
  );
  model.dispose();
});
