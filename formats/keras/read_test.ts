/**
 * Tests of readKeras (formats/keras/) on the real MLPerf Tiny ResNet-8 (Keras 2.4 full-model HDF5)
 * and on the
 * fixtures written by testdata/fixtures/keras_reader/make_fixtures.py.
 *
 * @module
 */

import { assertEquals, assertRejects } from "@std/assert";
import { unzipSync, zipSync } from "fflate";
import { readKeras } from "./read.ts";
import type { KerasFile } from "./types.ts";
import { ZooFormatError } from "../../arch/errors.ts";

const FIXTURES = new URL("../../testdata/fixtures/keras_reader/", import.meta.url);
const RESNET8 =
  new URL("../../testdata/keras-mlperf-tiny/resnet8_cifar10.h5", import.meta.url).pathname;

function fixture(name: string): Promise<Uint8Array> {
  return Deno.readFile(new URL(name, FIXTURES));
}

/** The generator's `pattern`: element i is ((i % 17) - 8) / 8 + offset. */
function pattern(count: number, offset: number): Float32Array {
  return Float32Array.from({ length: count }, (_, i) => ((i % 17) - 8) / 8 + offset);
}

/** Summed in order in float64, as the h5py cross-check did (`s += float(v)`). */
function sequentialSum(data: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < data.length; i++) sum += data[i];
  return sum;
}

type ShapeAndData = [shape: number[], data: Float32Array];

/** name → [shape, data] of every tensor, for compact assertions. */
function tensorsOf(model: KerasFile): Map<string, ShapeAndData> {
  const entries = model.layers.flatMap((layer) => layer.weights);
  return new Map(entries.map((w) => [w.name, [w.shape, w.data as Float32Array]]));
}

async function assertRejectsZoo(
  read: () => Promise<unknown>,
  file: string,
  includes: string,
): Promise<void> {
  const error = await assertRejects(read, ZooFormatError);
  assertEquals(error.file, file);
  if (!error.message.includes(includes)) {
    throw new Error(`expected the message to include "${includes}": ${error.message}`);
  }
}

Deno.test("resnet8 Keras 2.4 full-model h5: layers, classes and values match h5py", async () => {
  const model = await readKeras(await Deno.readFile(RESNET8), "resnet8_cifar10.h5");
  assertEquals(model.format, "h5-model");
  assertEquals(model.kerasVersion, "2.4.0");
  assertEquals(model.backend, "tensorflow");
  assertEquals(model.modelConfig?.class_name, "Functional");
  assertEquals((model.modelConfig?.config as { layers: unknown[] }).layers.length, 30);
  // Layers with weights in layer_names order, classes from model_config (h5py: same list).
  assertEquals(model.layers.map((layer) => [layer.name, layer.className]), [
    ["conv2d", "Conv2D"],
    ["batch_normalization", "BatchNormalization"],
    ["conv2d_1", "Conv2D"],
    ["batch_normalization_1", "BatchNormalization"],
    ["conv2d_2", "Conv2D"],
    ["batch_normalization_2", "BatchNormalization"],
    ["conv2d_3", "Conv2D"],
    ["batch_normalization_3", "BatchNormalization"],
    ["conv2d_4", "Conv2D"],
    ["conv2d_5", "Conv2D"],
    ["batch_normalization_4", "BatchNormalization"],
    ["conv2d_6", "Conv2D"],
    ["batch_normalization_5", "BatchNormalization"],
    ["conv2d_7", "Conv2D"],
    ["conv2d_8", "Conv2D"],
    ["batch_normalization_6", "BatchNormalization"],
    ["dense", "Dense"],
  ]);
  assertEquals(model.layers.flatMap((layer) => layer.weights).length, 48);
  assertEquals(model.layers[1].weights.map((w) => w.name), [
    "batch_normalization/gamma:0",
    "batch_normalization/beta:0",
    "batch_normalization/moving_mean:0",
    "batch_normalization/moving_variance:0",
  ]);

  const tensors = tensorsOf(model);
  // Expected values printed by h5py from the same file (float32 widened to float64 exactly).
  const expected: [string, number[], number, number[], number][] = [
    ["conv2d/kernel:0", [3, 3, 3, 16], -0.9227949751075357, [
      0.1258375644683838,
      -0.03629519045352936,
      -0.30233070254325867,
    ], 0.3720434308052063],
    ["batch_normalization_6/moving_variance:0", [64], 16.047764763236046, [
      0.24144580960273743,
      0.18379752337932587,
      0.20138008892536163,
    ], 0.23152148723602295],
    ["conv2d_8/kernel:0", [1, 1, 32, 64], -55.4920416397581, [
      0.007485703565180302,
      -0.059009455144405365,
      0.1693001538515091,
    ], -0.12105482071638107],
    ["dense/kernel:0", [64, 10], -103.36562205664814, [
      0.9460292458534241,
      -2.2406837940216064,
      1.412926197052002,
    ], -0.8421711325645447],
  ];
  for (const [name, shape, sum, first, last] of expected) {
    const [actualShape, data] = tensors.get(name)!;
    assertEquals(actualShape, shape, name);
    assertEquals(data.length, shape.reduce((a, b) => a * b, 1), name);
    assertEquals(sequentialSum(data), sum, name);
    assertEquals(Array.from(data.subarray(0, 3)), first, name);
    assertEquals(data[data.length - 1], last, name);
  }
  assertEquals(Array.from(tensors.get("dense/bias:0")![1]), [
    -0.08893249928951263,
    -0.15625350177288055,
    0.017591841518878937,
    0.0706857368350029,
    0.0466248095035553,
    -0.13220210373401642,
    0.17065033316612244,
    -0.10878022760152817,
    -0.006726636551320553,
    0.17929795384407043,
  ]);
});

/** What both keras.applications-style fixtures hold. */
function assertApplicationsWeights(model: KerasFile): void {
  assertEquals(model.format, "h5-weights");
  assertEquals(model.kerasVersion, "2.2.4");
  assertEquals(model.backend, "tensorflow");
  assertEquals(model.modelConfig, undefined);
  assertEquals(model.layers.map((layer) => layer.name), ["conv1_conv", "conv1_bn", "predictions"]);
  assertEquals(model.layers.map((layer) => layer.className), [undefined, undefined, undefined]);
  assertEquals(
    [...tensorsOf(model)],
    [
      ["conv1_conv/kernel:0", [[3, 3, 2, 4], pattern(72, 0)]],
      ["conv1_conv/bias:0", [[4], pattern(4, 0.25)]],
      ["conv1_bn/gamma:0", [[4], pattern(4, 1)]],
      ["conv1_bn/beta:0", [[4], pattern(4, -0.5)]],
      ["conv1_bn/moving_mean:0", [[4], pattern(4, 0.125)]],
      ["conv1_bn/moving_variance:0", [[4], pattern(4, 2)]],
      ["predictions/kernel:0", [[4, 3], pattern(12, 0.5)]],
      ["predictions/bias:0", [[3], pattern(3, -0.25)]],
    ],
  );
}

Deno.test("Keras 2 weights-only h5 with keras.applications naming", async () => {
  assertApplicationsWeights(
    await readKeras(await fixture("applications_weights.h5"), "applications_weights.h5"),
  );
});

Deno.test("Keras 2 weights-only h5 with chunked name attributes and float16/float64 datasets", async () => {
  const model = await readKeras(await fixture("applications_weights_chunked.h5"), "chunked.h5");
  assertApplicationsWeights(model);
  assertEquals(model.layers[2].weights.map((w) => w.dtype), ["float32", "float32"]);
});

/** The tensors of the tiny functional model, named `<layer>/<variable>` as Keras 3 paths are. */
const TINY_KERAS3_LAYERS = [
  {
    name: "stem_conv",
    className: "Conv2D",
    tensors: [["stem_conv/kernel", [3, 3, 2, 4], pattern(72, 0)], [
      "stem_conv/bias",
      [4],
      pattern(4, 0.25),
    ]],
  },
  {
    name: "stem_bn",
    className: "BatchNormalization",
    tensors: [
      ["stem_bn/gamma", [4], pattern(4, 1)],
      ["stem_bn/beta", [4], pattern(4, -0.5)],
      ["stem_bn/moving_mean", [4], pattern(4, 0.125)],
      ["stem_bn/moving_variance", [4], pattern(4, 2)],
    ],
  },
  // use_bias is false: one variable only.
  {
    name: "head_conv",
    className: "Conv2D",
    tensors: [["head_conv/kernel", [1, 1, 4, 4], pattern(16, -0.75)]],
  },
  {
    name: "logits",
    className: "Dense",
    tensors: [["logits/kernel", [4, 3], pattern(12, 0.5)], ["logits/bias", [3], pattern(3, -0.25)]],
  },
];

function layerSummary(model: KerasFile): unknown[] {
  return model.layers.map((layer) => ({
    name: layer.name,
    className: layer.className,
    tensors: layer.weights.map((w) => [w.name, w.shape, w.data]),
  }));
}

Deno.test("Keras 3 .keras zip: config layers mapped to class-name counter keys", async () => {
  const model = await readKeras(await fixture("tiny_functional.keras"), "tiny_functional.keras");
  assertEquals(model.format, "keras3");
  assertEquals(model.kerasVersion, "3.3.3");
  assertEquals(model.backend, undefined);
  assertEquals(model.modelConfig?.class_name, "Functional");
  assertEquals(model.modelConfig?.module, "keras.src.models.functional");
  assertEquals(layerSummary(model), TINY_KERAS3_LAYERS);
});

Deno.test("Keras 3 .keras zip: name attributes on vars groups win over the counters", async () => {
  // In this file layers/conv2d holds head_conv and layers/conv2d_1 holds stem_conv, and the Dense
  // bias is bfloat16 (2-byte opaque data tagged dtype=bfloat16), exact for these values.
  const model = await readKeras(await fixture("swapped_names.keras"), "swapped_names.keras");
  assertEquals(layerSummary(model), TINY_KERAS3_LAYERS);
});

Deno.test("bare Keras 3 .weights.h5: layers named by vars name attributes, else by keys", async () => {
  const named = unzipSync(await fixture("swapped_names.keras"))["model.weights.h5"];
  const fromNames = await readKeras(named, "named.weights.h5");
  assertEquals(fromNames.format, "keras3");
  assertEquals(fromNames.modelConfig, undefined);
  // Key order: batch_normalization, conv2d, conv2d_1, dense.
  assertEquals(
    fromNames.layers.map((layer) => [layer.name, layer.weights.map((w) => [w.name, w.shape])]),
    [
      ["stem_bn", [["stem_bn/0", [4]], ["stem_bn/1", [4]], ["stem_bn/2", [4]], ["stem_bn/3", [4]]]],
      ["head_conv", [["head_conv/0", [1, 1, 4, 4]]]],
      ["stem_conv", [["stem_conv/0", [3, 3, 2, 4]], ["stem_conv/1", [4]]]],
      ["logits", [["logits/0", [4, 3]], ["logits/1", [3]]]],
    ],
  );
  assertEquals(fromNames.layers[0].weights[3].data, pattern(4, 2));

  const unnamed = unzipSync(await fixture("tiny_functional.keras"))["model.weights.h5"];
  const fromKeys = await readKeras(unnamed, "model.weights.h5");
  assertEquals(fromKeys.layers.map((layer) => layer.name), [
    "batch_normalization",
    "conv2d",
    "conv2d_1",
    "dense",
  ]);
  assertEquals(fromKeys.layers[1].weights[0].data, pattern(72, 0));
});

async function tfjsShards(): Promise<Map<string, Uint8Array>> {
  const names = ["group1-shard1of2.bin", "group1-shard2of2.bin"];
  return new Map(
    await Promise.all(names.map(async (name) => [name, await fixture(`tfjs/${name}`)] as const)),
  );
}

Deno.test("tfjs layers model.json with two shards, float16 and uint8 quantization", async () => {
  const json = await fixture("tfjs/model.json");
  const model = await readKeras(json, "tfjs/model.json", { shards: await tfjsShards() });
  assertEquals(model.format, "tfjs-layers");
  assertEquals(model.kerasVersion, "2.15.0");
  assertEquals(model.backend, "tensorflow");
  assertEquals(model.modelConfig?.class_name, "Functional");
  // Model order, although logits/kernel comes second in the manifest.
  assertEquals(layerSummary(model), [
    TINY_KERAS3_LAYERS[0],
    TINY_KERAS3_LAYERS[1],
    {
      name: "logits",
      className: "Dense",
      tensors: [
        // uint8 levels i % 9 with scale 0.25 and min -1.
        ["logits/kernel", [4, 3], Float32Array.from({ length: 12 }, (_, i) => (i % 9) * 0.25 - 1)],
        ["logits/bias", [3], pattern(3, -0.25)],
      ],
    },
  ]);
});

Deno.test("tfjs layers model.json: missing or short shards and graph models are refused", async () => {
  const json = await fixture("tfjs/model.json");
  const shards = await tfjsShards();
  await assertRejectsZoo(() => readKeras(json, "model.json"), "model.json", "options.shards");
  const missing = new Map([...shards].slice(0, 1));
  await assertRejectsZoo(
    () => readKeras(json, "model.json", { shards: missing }),
    "model.json",
    "group1-shard2of2.bin",
  );
  const short = new Map(shards);
  short.set("group1-shard2of2.bin", shards.get("group1-shard2of2.bin")!.subarray(0, 100));
  await assertRejectsZoo(
    () => readKeras(json, "model.json", { shards: short }),
    "model.json",
    "weight 'stem_conv/bias' needs bytes 300..316 but its shards hold 300 bytes",
  );
  const graph = new TextEncoder().encode(
    JSON.stringify({ format: "graph-model", modelTopology: {} }),
  );
  await assertRejectsZoo(
    () => readKeras(graph, "graph.json", { shards }),
    "graph.json",
    "graph-model",
  );
});

Deno.test("Theano-backend h5 is refused with a re-save hint", async () => {
  const theano = await fixture("theano_weights.h5");
  await assertRejectsZoo(
    () => readKeras(theano, "theano_weights.h5"),
    "theano_weights.h5",
    "Theano",
  );
});

Deno.test("malformed files name the file and what is wrong", async () => {
  await assertRejectsZoo(
    () => readKeras(new TextEncoder().encode("GIF89a"), "x.bin"),
    "x.bin",
    "not a Keras file",
  );
  const h5 = await fixture("applications_weights.h5");
  await assertRejectsZoo(
    () => readKeras(h5.subarray(0, 5000), "cut.h5"),
    "cut.h5",
    "truncated file",
  );
  const oversized = await fixture("oversized_dataset.h5");
  await assertRejectsZoo(
    () => readKeras(oversized, "oversized.h5"),
    "oversized.h5",
    "dataset '/big_conv/big_conv/kernel:0' declares shape [4096,4096,4,4] (1073741824 bytes)",
  );
  const configOnly = zipSync({ "config.json": new TextEncoder().encode("{}") });
  await assertRejectsZoo(
    () => readKeras(configOnly, "config_only.keras"),
    "config_only.keras",
    "no model.weights.h5",
  );
});
