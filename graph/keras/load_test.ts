/**
 * Tests of graph/keras/ (loadKerasModel, serializeLayersModel, saveLayersModel): whole Keras
 * models as tf.LayersModels. The real MLPerf Tiny
 * ResNet-8 (Keras 2.4 HDF5) on 1000 CIFAR-10 test images, the fixtures of
 * testdata/fixtures/keras_models/make_fixtures.py (a Keras 3 `.keras` zip and a Keras 2.2.4 HDF5 with
 * a nested Sequential, with numpy/torch reference outputs), the tfjs layers format both ways, and
 * the errors for what cannot be imported.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { assert, assertEquals, assertRejects } from "@std/assert";
import { loadKerasModel } from "./load.ts";
import { saveLayersModel, serializeLayersModel } from "./save.ts";
import { readKeras } from "../../formats/keras/read.ts";
import { readNpy } from "../../formats/npy.ts";
import { ZooFormatError } from "../../arch/errors.ts";
import { useBackend } from "../../runtime/backend.ts";
import { decodeImage } from "../../vision/decode.ts";
import { splitImageRows } from "../../vision/tiles.ts";

await useBackend("wasm");

const DATA = new URL("../../testdata/", import.meta.url);
const FIXTURES = new URL("../../testdata/fixtures/keras_models/", import.meta.url);
const RESNET8 = "resnet8_cifar10.h5";

function readData(path: string): Promise<Uint8Array> {
  return Deno.readFile(new URL(path, DATA));
}

async function fixtureTensor(name: string): Promise<tf.Tensor> {
  const npy = readNpy(await Deno.readFile(new URL(name, FIXTURES)), name);
  return tf.tensor(npy.data as Float32Array, npy.shape);
}

/** The model's output on `x` as a flat array; the output tensor is disposed. */
async function run(model: tfl.LayersModel, x: tf.Tensor): Promise<Float32Array> {
  const y = model.predict(x) as tf.Tensor;
  const values = await y.data() as Float32Array;
  y.dispose();
  return values;
}

function maxAbsDifference(a: Float32Array, b: Float32Array): number {
  assertEquals(a.length, b.length);
  return a.reduce((max, value, i) => Math.max(max, Math.abs(value - b[i])), 0);
}

/** CIFAR-10 test images `start` … `start + count - 1` as raw 0–255 floats, NHWC. */
async function cifarImages(start: number, count: number): Promise<tf.Tensor4D> {
  const file = "cifar10-test/test_1000.png";
  const images = splitImageRows(await decodeImage(await readData(file), file), 32, 32);
  const pixels = new Float32Array(count * 32 * 32 * 3);
  images.slice(start, start + count).forEach((image, i) => pixels.set(image.data, i * 3072));
  return tf.tensor4d(pixels, [count, 32, 32, 3]);
}

Deno.test("resnet8 (Keras 2.4 HDF5) reproduces 88.1 % on the 1000 CIFAR-10 test images", async () => {
  const bytes = await readData(`keras-mlperf-tiny/${RESNET8}`);
  const model = await loadKerasModel(bytes, RESNET8);
  assertEquals(model.layers.length, 30);
  assertEquals(model.inputs[0].shape, [null, 32, 32, 3]);
  assertEquals(model.outputs[0].shape, [null, 10]);
  const fileValues = (await readKeras(bytes, RESNET8)).layers
    .flatMap((layer) => layer.weights)
    .reduce((total, tensor) => total + tensor.data.length, 0);
  assertEquals(model.countParams(), fileValues);
  assertEquals(model.countParams(), 78_666);

  const labels: number[] = JSON.parse(
    new TextDecoder().decode(await readData("cifar10-test/test_1000_labels.json")),
  );
  let correct = 0;
  for (let start = 0; start < 1000; start += 250) {
    const x = await cifarImages(start, 250);
    const predicted = tf.tidy(() => tf.argMax(model.predict(x) as tf.Tensor, 1));
    (await predicted.data()).forEach((label, i) => {
      if (label === labels[start + i]) correct++;
    });
    tf.dispose([x, predicted]);
  }
  assertEquals(correct, 881);
  model.dispose();
});

Deno.test("Keras 3 .keras functional block matches the numpy/torch reference within 1e-4", async () => {
  const file = "keras3_block.keras";
  const model = await loadKerasModel(await Deno.readFile(new URL(file, FIXTURES)), file);
  assertEquals(model.layers.map((layer) => [layer.name, layer.getClassName()]), [
    ["input_layer", "InputLayer"],
    ["rescale", "Rescaling"],
    ["normalize", "Normalization"],
    ["stem_conv", "Conv2D"],
    ["stem_bn", "BatchNormalization"],
    ["stem_relu", "ReLU"],
    ["block_conv", "Conv2D"],
    ["block_bn", "BatchNormalization"],
    ["block_swish", "Activation"],
    ["shortcut_conv", "Conv2D"],
    ["block_add", "Add"],
    ["block_out", "Activation"],
    ["pool", "GlobalAveragePooling2D"],
    ["logits", "Dense"],
  ]);
  // The 3×3/2 'same' conv on the even 12×12 input pads bottom/right only, as TF does: 6×6 out.
  assertEquals(model.getLayer("stem_conv").outputShape, [null, 6, 6, 8]);
  assertEquals(model.countParams(), 216 + 32 + 584 + 32 + 32 + 45);

  const x = await fixtureTensor("keras3_block_input.npy");
  const expected = await fixtureTensor("keras3_block_output.npy");
  assertEquals(expected.shape, [2, 5]);
  const output = await run(model, x);
  const difference = maxAbsDifference(output, await expected.data() as Float32Array);
  assert(difference < 1e-4, `max |difference| ${difference}`);
  tf.dispose([x, expected]);
  model.dispose();
});

Deno.test("Keras 2.2.4 HDF5 with a nested Sequential matches the reference within 1e-5", async () => {
  const file = "keras2_nested.h5";
  const model = await loadKerasModel(await Deno.readFile(new URL(file, FIXTURES)), file);
  const features = model.getLayer("features") as tfl.Sequential;
  assertEquals(features.layers.map((layer) => layer.name), [
    "conv2d_1",
    "batch_normalization_1",
    "activation_1",
  ]);
  const x = await fixtureTensor("keras2_nested_input.npy");
  const expected = await fixtureTensor("keras2_nested_output.npy");
  const output = await run(model, x);
  const difference = maxAbsDifference(output, await expected.data() as Float32Array);
  assert(difference < 1e-5, `max |difference| ${difference}`);
  tf.dispose([x, expected]);
  model.dispose();
});

Deno.test("a nested Keras 3 Sequential, whose calls Keras 3 numbers from 0, is wired up", async () => {
  const keras3Tensor = (layer: string) => ({
    class_name: "__keras_tensor__",
    config: { shape: [null, 2, 3], dtype: "float32", keras_history: [layer, 0, 0] },
  });
  const input = (name: string) => ({
    module: "keras.layers",
    class_name: "InputLayer",
    config: { batch_shape: [null, 2, 3], dtype: "float32", sparse: false, name },
    registered_name: null,
  });
  const topology = {
    module: "keras.src.models.functional",
    class_name: "Functional",
    config: {
      name: "outer",
      layers: [
        { ...input("x"), name: "x", inbound_nodes: [] },
        {
          module: "keras",
          class_name: "Sequential",
          config: {
            name: "inner",
            layers: [input("inner_input"), {
              module: "keras.layers",
              class_name: "Activation",
              config: { name: "inner_relu", activation: "relu" },
            }],
          },
          name: "inner",
          inbound_nodes: [{ args: [keras3Tensor("x")], kwargs: {} }],
        },
        {
          module: "keras.layers",
          class_name: "Rescaling",
          config: { name: "double", scale: 2.0, offset: 0.0 },
          name: "double",
          inbound_nodes: [{ args: [keras3Tensor("inner")], kwargs: { mask: null } }],
        },
      ],
      input_layers: [["x", 0, 0]],
      output_layers: [["inner", 0, 0], ["double", 0, 0]],
    },
  };
  const json = JSON.stringify({ modelTopology: topology, weightsManifest: [] });
  const model = await loadKerasModel(new TextEncoder().encode(json), "nested.json", {
    shards: new Map(),
  });
  const x = tf.tensor([[[-1, 2, -3], [4, -5, 6]]]);
  const [relu, doubled] = model.predict(x) as tf.Tensor[];
  assertEquals(Array.from(await relu.data()), [0, 2, 0, 4, 0, 6]);
  assertEquals(Array.from(await doubled.data()), [0, 4, 0, 8, 0, 12]);
  tf.dispose([x, relu, doubled]);
  model.dispose();
});

Deno.test("tfjs layers format written from a loaded model reloads with identical outputs", async () => {
  const cases: [file: string, input: () => Promise<tf.Tensor>][] = [
    ["keras3_block.keras", () => fixtureTensor("keras3_block_input.npy")],
    [RESNET8, () => cifarImages(0, 16)],
  ];
  for (const [file, input] of cases) {
    const bytes = await Deno.readFile(
      file === RESNET8 ? new URL(`keras-mlperf-tiny/${file}`, DATA) : new URL(file, FIXTURES),
    );
    const model = await loadKerasModel(bytes, file);
    const { modelJson, shards } = await serializeLayersModel(model);
    const json = JSON.parse(new TextDecoder().decode(modelJson));
    assertEquals(json.format, "layers-model");
    assertEquals(json.weightsManifest[0].paths, ["group1-shard1of1.bin"]);
    assertEquals(shards.get("group1-shard1of1.bin")!.length, model.countParams() * 4);

    const copy = await loadKerasModel(modelJson, "model.json", { shards });
    const x = await input();
    assertEquals(await run(copy, x), await run(model, x), file);
    tf.dispose([x]);
    model.dispose();
    copy.dispose();
  }
});

Deno.test("saveLayersModel writes model.json + shard by rename; it reloads (also in tfjs)", async () => {
  const model = await loadKerasModel(await readData(`keras-mlperf-tiny/${RESNET8}`), RESNET8);
  const dir = await Deno.makeTempDir({ prefix: "keras_model_test_" });
  try {
    const target = `${dir}/web_model`;
    await saveLayersModel(model, target);
    await saveLayersModel(model, target); // replacing an earlier save works too
    const names = [...Deno.readDirSync(target)].map((entry) => entry.name).sort();
    assertEquals(names, ["group1-shard1of1.bin", "model.json"]); // no temporary files left
    const modelJson = await Deno.readFile(`${target}/model.json`);
    const shard = await Deno.readFile(`${target}/group1-shard1of1.bin`);
    assertEquals(shard.length, model.countParams() * 4);

    const x = await cifarImages(100, 8);
    const expected = await run(model, x);
    const copy = await loadKerasModel(modelJson, "web_model/model.json", {
      shards: new Map([["group1-shard1of1.bin", shard]]),
    });
    assertEquals(await run(copy, x), expected);

    // tfjs' own loader reads the same files.
    const json = JSON.parse(new TextDecoder().decode(modelJson));
    const viaTfjs = await tfl.loadLayersModel(tf.io.fromMemory({
      modelTopology: json.modelTopology,
      weightSpecs: json.weightsManifest[0].weights,
      weightData: shard.buffer,
    }));
    assertEquals(await run(viaTfjs, x), expected);
    tf.dispose([x]);
    copy.dispose();
    viaTfjs.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
    model.dispose();
  }
});

// ---------------------------------------------------------------------------------------------
// Errors

interface WeightSpec {
  name: string;
  shape: number[];
  /** The value of every element (0 if not given). */
  fill?: number;
}

/** A tfjs `model.json` (and its shard) of a functional model over a [null, 4, 4, 2] input. */
function tfjsModel(
  layers: Record<string, unknown>[],
  weights: WeightSpec[] = [],
): [Uint8Array, { shards: Map<string, Uint8Array> }] {
  const input = {
    name: "input_1",
    class_name: "InputLayer",
    config: { batch_input_shape: [null, 4, 4, 2], dtype: "float32", name: "input_1" },
    inbound_nodes: [],
  };
  const modelJson = {
    format: "layers-model",
    modelTopology: {
      class_name: "Functional",
      config: {
        name: "broken",
        layers: [input, ...layers],
        input_layers: [["input_1", 0, 0]],
        output_layers: [[layers.at(-1)!.name, 0, 0]],
      },
    },
    weightsManifest: [{
      paths: ["w.bin"],
      weights: weights.map(({ name, shape }) => ({ name, shape, dtype: "float32" })),
    }],
  };
  const values = weights.flatMap(({ shape, fill }) =>
    Array(shape.reduce((a, b) => a * b, 1)).fill(fill ?? 0)
  );
  return [
    new TextEncoder().encode(JSON.stringify(modelJson)),
    { shards: new Map([["w.bin", new Uint8Array(Float32Array.from(values).buffer)]]) },
  ];
}

function layer(
  className: string,
  name: string,
  config: Record<string, unknown>,
  inbound = "input_1",
): Record<string, unknown> {
  return {
    name,
    class_name: className,
    config: { name, ...config },
    inbound_nodes: [[[inbound, 0, 0, {}]]],
  };
}

async function assertRejectsZoo(
  load: () => Promise<unknown>,
  file: string,
  includes: string,
): Promise<void> {
  const error = await assertRejects(load, ZooFormatError);
  assertEquals(error.file, file);
  if (!error.message.includes(includes)) {
    throw new Error(`expected the message to include "${includes}": ${error.message}`);
  }
}

Deno.test("an unsupported layer class is named with its layer", async () => {
  const [json, options] = tfjsModel([layer("Lambda", "double_it", { function: "lambda x: 2*x" })]);
  await assertRejectsZoo(
    () => loadKerasModel(json, "lambda/model.json", options),
    "lambda/model.json",
    "layer 'double_it' (Lambda) is not supported",
  );
  const [opJson, opOptions] = tfjsModel([{
    ...layer("Add", "add", {}),
    module: "keras.src.ops.numpy",
  }]);
  await assertRejectsZoo(
    () => loadKerasModel(opJson, "op.json", opOptions),
    "op.json",
    "layer 'add' (Add) is the raw Keras operation keras.src.ops.numpy.Add",
  );
});

Deno.test("settings tfjs would silently compute differently are rejected", async () => {
  const conv = { filters: 4, kernel_size: [1, 1], use_bias: false };
  const cases: [Record<string, unknown>, string][] = [
    [
      layer("Conv2D", "grouped", { ...conv, groups: 2 }),
      "layer 'grouped' (Conv2D) is not supported with groups = 2",
    ],
    [
      layer("ReLU", "shifted", { threshold: 0.5 }),
      "layer 'shifted' (ReLU) is not supported with threshold 0.5",
    ],
    [layer("Activation", "hard", { activation: "hard_sigmoid" }), 'activation "hard_sigmoid"'],
    [layer("GlobalAveragePooling2D", "kept", { keepdims: true }), "keepdims = true"],
    [
      layer("Dense", "quantized", {
        units: 2,
        dtype: { class_name: "QuantizedDTypePolicy", config: { name: "int8_from_float32" } },
      }),
      'dtype "int8_from_float32"',
    ],
  ];
  for (const [entry, message] of cases) {
    const [json, options] = tfjsModel([entry]);
    await assertRejectsZoo(() => loadKerasModel(json, "m.json", options), "m.json", message);
  }
});

Deno.test("weights the file names are matched by name, whatever their order", async () => {
  const [json, options] = tfjsModel([layer("BatchNormalization", "bn", { epsilon: 0 })], [
    { name: "bn/moving_variance", shape: [2], fill: 4 },
    { name: "bn/moving_mean", shape: [2], fill: 1 },
    { name: "bn/beta", shape: [2], fill: 10 },
    { name: "bn/gamma", shape: [2], fill: 2 },
  ]);
  const model = await loadKerasModel(json, "m.json", options);
  const x = tf.fill([1, 4, 4, 2], 3);
  // (3 − 1) / √4 · 2 + 10
  assertEquals(Array.from(await run(model, x)), Array(32).fill(12));
  tf.dispose([x]);
  model.dispose();
});

Deno.test("weights that do not fit their layer name the layer and tensor", async () => {
  const dense = layer("Dense", "fc", { units: 3, use_bias: true }, "flat");
  const flatten = layer("Flatten", "flat", {});
  const [json, options] = tfjsModel([flatten, dense], [
    { name: "fc/kernel", shape: [32, 4] },
    { name: "fc/bias", shape: [3] },
  ]);
  await assertRejectsZoo(
    () => loadKerasModel(json, "m.json", options),
    "m.json",
    "layer 'fc' (Dense): tensor 'fc/kernel' has shape [32,4], the model's 'fc/kernel' needs [32,3]",
  );
  const [missing, missingOptions] = tfjsModel([flatten, dense], [{
    name: "fc/kernel",
    shape: [32, 3],
  }]);
  await assertRejectsZoo(
    () => loadKerasModel(missing, "m.json", missingOptions),
    "m.json",
    "layer 'fc' (Dense) has 1 weights in the file [fc/kernel], the model needs 2 [kernel,bias]",
  );
});

Deno.test("broken graphs and weights-only files fail with an error, not a hang", async () => {
  const [cycle, cycleOptions] = tfjsModel([
    layer("Activation", "a", { activation: "relu" }, "b"),
    layer("Activation", "b", { activation: "relu" }, "a"),
  ]);
  await assertRejectsZoo(
    () => loadKerasModel(cycle, "cycle.json", cycleOptions),
    "cycle.json",
    "layer 'a' waits for node 0 of 'b', which the graph never creates",
  );
  const [dangling, danglingOptions] = tfjsModel([layer("Activation", "a", {}, "nowhere")]);
  await assertRejectsZoo(
    () => loadKerasModel(dangling, "dangling.json", danglingOptions),
    "dangling.json",
    "layer 'a' takes its input from 'nowhere', which model 'broken' lacks",
  );
  const weightsOnly = "applications_weights.h5";
  await assertRejectsZoo(
    async () =>
      loadKerasModel(
        await Deno.readFile(new URL(`../keras_reader/${weightsOnly}`, FIXTURES)),
        weightsOnly,
      ),
    weightsOnly,
    "holds weights only, no model config",
  );
});
