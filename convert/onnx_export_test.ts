import * as tf from "@tensorflow/tfjs-core";
import { assert, assertEquals, assertRejects } from "@std/assert";
import { exportOnnx, exportOnnxWithExternalData, type OnnxExportOptions } from "./onnx_export.ts";
import { joinChunks } from "../formats/files.ts";
import onnxProto from "onnx-proto";
import { readOnnx } from "../formats/onnx.ts";
import { importBytes, importFile } from "./import.ts";
import { readNpy } from "../formats/npy.ts";
import { transpose } from "./layout.ts";
import { useBackend } from "../runtime/backend.ts";
import { createModel, type ModelOptions } from "../runtime/model.ts";
import { planResNet } from "../arch/plan.ts";
import type { ResNetSpec } from "../arch/spec.ts";
import { getSpec } from "../arch/presets.ts";
import type { WeightMap } from "../arch/weights.ts";
import { createOrtSession, ortAvailable } from "../runtime/ort.ts";
import { relativeError } from "../tests/helpers.ts";

await useBackend("wasm");
const noOrt = !(await ortAvailable());
const { onnx } = onnxProto;

const here = (path: string) => new URL(path, import.meta.url).pathname;
const nets = (file: string) => here(`../testdata/fixtures/nets/${file}`);

/** Deterministic uniform numbers in [0, 1) (an LCG; quality is irrelevant here). */
function uniform(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 4294967296;
  };
}

/**
 * A copy of a model's weights with BatchNorms far from identity and non-zero conv biases,
 * so that folding changes every kernel and bias.
 */
function randomiseWeights(weights: WeightMap, seed: number): WeightMap {
  const random = uniform(seed);
  const between = (lo: number, hi: number) => lo + (hi - lo) * random();
  const ranges: Record<string, [number, number]> = {
    gamma: [0.5, 1.5],
    beta: [-0.2, 0.2],
    moving_mean: [-0.2, 0.2],
    moving_variance: [0.6, 1.6],
    bias: [-0.1, 0.1],
  };
  const result: WeightMap = new Map();
  for (const [name, w] of weights) {
    const range = ranges[name.slice(name.lastIndexOf("/") + 1)];
    const data = range ? w.data.map(() => between(...range)) : w.data;
    result.set(name, { shape: w.shape, data });
  }
  return result;
}

function randomInput(shape: number[], seed: number): Float32Array {
  const random = uniform(seed);
  return new Float32Array(shape.reduce((a, b) => a * b, 1)).map(() => random() * 2 - 1);
}

/** NHWC ⇄ NCHW of an activation batch. */
const toNchw = (data: Float32Array, shape: number[]) => transpose({ shape, data }, [0, 3, 1, 2]);

/** Runs an exported model in onnxruntime on an NHWC batch, feeding the layout it was exported with. */
async function runOrt(
  bytes: Uint8Array,
  x: Float32Array,
  nhwcShape: number[],
  layout: "nchw" | "nhwc",
) {
  const engine = await createOrtSession(bytes, { threads: 1 });
  try {
    const input = layout === "nhwc" ? { shape: nhwcShape, data: x } : toNchw(x, nhwcShape);
    return await engine.run(input.data, input.shape);
  } finally {
    await engine.dispose();
  }
}

/** tfjs' folded path (`predict`, NHWC) on the same batch. */
async function predictTfjs(
  spec: ResNetSpec,
  weights: WeightMap,
  x: Float32Array,
  shape: number[],
  options: ModelOptions = {},
) {
  const model = createModel(spec, { ...options, weights });
  const y = model.predict(tf.tensor4d(x, shape as [number, number, number, number]));
  const result = { data: (await y.data()) as Float32Array, shape: y.shape };
  y.dispose();
  model.dispose();
  return result;
}

/** A CIFAR option-A net whose channel padding is uneven (27 − 16 = 11 → 5 before, 6 after). */
const OPTION_A_ODD: ResNetSpec = {
  ...getSpec("cifar_resnet20"),
  name: "cifar_option_a_odd",
  widths: [16, 27, 40],
  depths: [2, 2, 2],
};

const CASES: { spec: ResNetSpec; size: number; roundTrip: boolean }[] = [
  { spec: getSpec("cifar_resnet20"), size: 32, roundTrip: true },
  { spec: OPTION_A_ODD, size: 32, roundTrip: false },
  { spec: getSpec("resnet18"), size: 64, roundTrip: true },
  { spec: getSpec("keras_resnet50"), size: 64, roundTrip: false },
  { spec: getSpec("resnet50v2"), size: 64, roundTrip: false },
];

for (const [caseIndex, { spec, size, roundTrip }] of CASES.entries()) {
  Deno.test({
    name: `${spec.name}: ONNX export (nchw and nhwc) runs in onnxruntime like predict`,
    ignore: noOrt,
    fn: async () => {
      const seed = 10 + caseIndex;
      const weights = randomiseWeights(createModel(spec, { seed }).weights, seed);
      const shape = [2, size, size, 3];
      const x = randomInput(shape, seed);
      const expected = await predictTfjs(spec, weights, x, shape);
      const plan = planResNet(spec);
      for (const layout of ["nchw", "nhwc"] as const) {
        const bytes = await exportOnnx(plan, weights, { layout });
        const y = await runOrt(bytes, x, shape, layout);
        assertEquals(y.shape, [2, spec.classes]);
        const error = relativeError(y.data, expected.data);
        assert(error < 1e-4, `${spec.name} ${layout}: relative error ${error}`);

        const model = await readOnnx(bytes, `${spec.name}.onnx`);
        assertEquals([model.opset, model.irVersion, model.producer], [13, 7, "denozoo"]);
        assertEquals(model.graph.inputs, [{
          name: "input",
          shape: layout === "nchw" ? ["N", 3, "H", "W"] : ["N", "H", "W", 3],
        }]);
        assertEquals(model.graph.outputs, [{ name: "logits", shape: ["N", spec.classes] }]);
        const ops = new Set(model.graph.nodes.map((n) => n.opType));
        assertEquals(ops.has("Transpose"), layout === "nhwc");
        assertEquals(
          ops.has("BatchNormalization"),
          spec.preact,
          "only BNs that follow no conv stay",
        );
        assertEquals(ops.has("Slice"), spec.shortcut === "optionA" || spec.strideBlock === "last");
      }
      if (roundTrip) {
        const imported = await importBytes(await exportOnnx(plan, weights), "x.onnx");
        assertEquals(imported.format, "onnx");
        assertEquals(imported.spec.name, spec.name);
        const again = await predictTfjs(imported.spec, imported.weights, x, shape);
        const error = relativeError(again.data, expected.data);
        assert(error < 1e-4, `${spec.name} round trip: relative error ${error}`);
      }
    },
  });
}

Deno.test({
  name: "a bottleneck whose projection looks like its last 1×1 conv survives the ONNX round trip",
  ignore: noOrt,
  fn: async () => {
    // stemWidth = widths[0]: layer1.0's conv3 and downsample are both 1×1 8→32 convs.
    const spec: ResNetSpec = {
      ...getSpec("resnet50"),
      name: "tiny_bottleneck",
      stemWidth: 8,
      widths: [8, 12, 16, 20],
      depths: [1, 2, 1, 1],
      classes: 7,
    };
    const weights = randomiseWeights(createModel(spec, { seed: 5 }).weights, 5);
    const shape = [2, 48, 48, 3];
    const x = randomInput(shape, 5);
    const expected = await predictTfjs(spec, weights, x, shape);
    const bytes = await exportOnnx(planResNet(spec), weights);
    const y = await runOrt(bytes, x, shape, "nchw");
    assert(relativeError(y.data, expected.data) < 1e-4);
    const imported = await importBytes(bytes, "tiny.onnx");
    assertEquals([imported.spec.depths, imported.spec.widths, imported.spec.strideConv], [
      [1, 2, 1, 1],
      [8, 12, 16, 20],
      "3x3",
    ]);
    const again = await predictTfjs(imported.spec, imported.weights, x, shape);
    assert(relativeError(again.data, expected.data) < 1e-4);
  },
});

Deno.test({
  name:
    "input BN, stem BN before a 'same' max-pool, odd sizes: Gluon-style v2 export matches predict",
  ignore: noOrt,
  fn: async () => {
    const spec: ResNetSpec = {
      ...getSpec("resnet18v2"),
      name: "tiny_gluon_v2",
      inputBn: true,
      stemNorm: true,
      poolPadding: "same",
      stemWidth: 8,
      widths: [8, 8, 16, 16],
      depths: [1, 1, 1, 1],
      classes: 5,
    };
    const weights = randomiseWeights(createModel(spec, { seed: 9 }).weights, 9);
    // 66 → 33 after the stem: TF 'same' pads the 3×3/2 pool by 1 on both sides there.
    const shape = [2, 66, 66, 3];
    const x = randomInput(shape, 9);
    const expected = await predictTfjs(spec, weights, x, shape);
    for (const layout of ["nchw", "nhwc"] as const) {
      const y = await runOrt(
        await exportOnnx(planResNet(spec), weights, { layout }),
        x,
        shape,
        layout,
      );
      const error = relativeError(y.data, expected.data);
      assert(error < 1e-4, `${layout}: relative error ${error}`);
    }
  },
});

Deno.test({
  name: "feature exports: 4-D maps come back in the input's layout, pooled ones as [N, C]",
  ignore: noOrt,
  fn: async () => {
    const spec = getSpec("cifar_resnet20");
    const shape = [2, 32, 32, 3];
    const x = randomInput(shape, 21);
    const cases: [ModelOptions, "nchw" | "nhwc"][] = [
      [{ includeTop: false }, "nhwc"],
      [{ includeTop: false }, "nchw"],
      [{ includeTop: false, pooling: "max" }, "nchw"],
    ];
    for (const [options, layout] of cases) {
      const plan = planResNet(spec, options);
      const weights = randomiseWeights(createModel(spec, { ...options, seed: 21 }).weights, 21);
      const expected = await predictTfjs(spec, weights, x, shape, options);
      const bytes = await exportOnnx(plan, weights, { layout });
      const y = await runOrt(bytes, x, shape, layout);
      const { outputs } = (await readOnnx(bytes, "features.onnx")).graph;
      assertEquals(outputs[0].name, "features");
      const label = `${options.pooling ?? "none"} ${layout}`;
      if (options.pooling) {
        assertEquals(y.shape, [2, 64]);
        assert(relativeError(y.data, expected.data) < 1e-4, label);
      } else if (layout === "nhwc") {
        assertEquals(y.shape, [2, 8, 8, 64]);
        assert(relativeError(y.data, expected.data) < 1e-4, label);
      } else {
        assertEquals(y.shape, [2, 64, 8, 8]);
        const nchwExpected = toNchw(expected.data, [2, 8, 8, 64]).data;
        assert(relativeError(y.data, nchwExpected) < 1e-4, label);
      }
    }
  },
});

Deno.test({
  name: "a feature plan exports one output per map, in either layout, equal to the folded maps",
  ignore: noOrt,
  fn: async () => {
    const spec = getSpec("resnet18v2");
    const features = { outIndices: [0, 2, 4] };
    const weights = randomiseWeights(createModel(spec, { features, seed: 8 }).weights, 8);
    const model = createModel(spec, { features, weights });
    const shape = [1, 64, 64, 3];
    const x = randomInput(shape, 8);
    const maps = model.predict(tf.tensor4d(x, shape as [number, number, number, number]));
    const expected = await Promise.all(
      maps.map(async (m) => ({ shape: m.shape, data: await m.data() as Float32Array })),
    );
    tf.dispose(maps);
    for (const layout of ["nhwc", "nchw"] as const) {
      const bytes = await exportOnnx(model.plan, weights, { layout });
      const { outputs } = (await readOnnx(bytes, "features.onnx")).graph;
      assertEquals(outputs.map((o) => o.name), ["features_0", "features_1", "features_2"]);
      const session = await createOrtSession(bytes, { threads: 1, multipleOutputs: true });
      const input = layout === "nhwc" ? { shape, data: x } : toNchw(x, shape);
      const ys = await session.runAll(input.data, input.shape);
      await session.dispose();
      ys.forEach((y, i) => {
        const want = layout === "nhwc" ? expected[i] : toNchw(expected[i].data, expected[i].shape);
        assertEquals(y.shape, want.shape, `${layout} ${i}`);
        assert(relativeError(y.data, want.data) < 1e-4, `${layout} ${i}`);
      });
    }
    await assertRejects(
      async () => await createOrtSession(await exportOnnx(model.plan, weights)),
      Error,
      "expected a model with one input and one output",
    );
    model.dispose();
  },
});

Deno.test({
  name: "opset 11 and 17 and a fixed batch export the same function",
  ignore: noOrt,
  fn: async () => {
    const spec = getSpec("cifar_resnet20");
    const plan = planResNet(spec);
    const weights = randomiseWeights(createModel(spec, { seed: 4 }).weights, 4);
    const shape = [3, 32, 32, 3];
    const x = randomInput(shape, 4);
    const expected = await predictTfjs(spec, weights, x, shape);
    const variants: [OnnxExportOptions, number, number, (number | string)[]][] = [
      [{ opset: 11 }, 11, 7, ["N", 3, "H", "W"]],
      [{ opset: 17 }, 17, 8, ["N", 3, "H", "W"]],
      [{ batch: 3, layout: "nhwc" }, 13, 7, [3, "H", "W", 3]],
    ];
    for (const [options, opset, irVersion, inputShape] of variants) {
      const bytes = await exportOnnx(plan, weights, options);
      const model = await readOnnx(bytes, "x.onnx");
      assertEquals([model.opset, model.irVersion, model.graph.inputs[0].shape], [
        opset,
        irVersion,
        inputShape,
      ]);
      const y = await runOrt(bytes, x, shape, options.layout ?? "nchw");
      assert(relativeError(y.data, expected.data) < 1e-4, JSON.stringify(options));
    }
  },
});

Deno.test("bad options and missing weights are refused before anything is written", async () => {
  const plan = planResNet(getSpec("cifar_resnet20"));
  const weights = createModel("cifar_resnet20").weights;
  await assertRejects(
    () => exportOnnx(plan, weights, { opset: 10 }),
    RangeError,
    "opset 10 is not supported",
  );
  await assertRejects(
    () => exportOnnx(plan, weights, { batch: 0 }),
    RangeError,
    "positive integer",
  );
  const partial = new Map(weights);
  partial.delete("layer2.0.bn1/moving_variance");
  await assertRejects(
    () => exportOnnx(plan, partial),
    Error,
    "missing tensor 'layer2.0.bn1/moving_variance'",
  );
});

for (const net of ["tv_basic", "tv_bottleneck"]) {
  Deno.test({
    name: `${net}.onnx: import, re-export, run in onnxruntime = torch's logits`,
    ignore: noOrt,
    fn: async () => {
      const { spec, weights } = await importFile(nets(`${net}.onnx`));
      const input = readNpy(await Deno.readFile(nets(`${net}_input.npy`)), `${net}_input.npy`);
      const logits = readNpy(await Deno.readFile(nets(`${net}_logits.npy`)), `${net}_logits.npy`);
      const engine = await createOrtSession(await exportOnnx(planResNet(spec), weights), {
        threads: 1,
      });
      const y = await engine.run(input.data as Float32Array, input.shape);
      await engine.dispose();
      assertEquals(y.shape, [2, 10]);
      const error = relativeError(y.data, logits.data as Float32Array);
      assert(error < 1e-4, `relative error ${error}`);
    },
  });
}

Deno.test({
  name: "tv_bottleneck.onnx exported with external data runs from disk with torch's logits",
  ignore: noOrt,
  fn: async () => {
    const { spec, weights } = await importFile(nets("tv_bottleneck.onnx"));
    const input = readNpy(await Deno.readFile(nets("tv_bottleneck_input.npy")), "input");
    const logits = readNpy(await Deno.readFile(nets("tv_bottleneck_logits.npy")), "logits");
    const { model, data } = await exportOnnxWithExternalData(
      planResNet(spec),
      weights,
      "w.onnx.data",
    );
    // Every float weight sits page-aligned in the data file, the graph keeps only small constants.
    assert(model.length < 20_000, `model file of ${model.length} bytes`);
    const dir = await Deno.makeTempDir();
    try {
      await Deno.writeFile(`${dir}/w.onnx.data`, joinChunks(data));
      await Deno.writeFile(`${dir}/w.onnx`, model);
      const floats = (await readOnnx(model, `${dir}/w.onnx`)).graph;
      const proto = onnx.ModelProto.decode(model);
      const external = proto.graph!.initializer!.filter((t) => t.dataLocation === 1);
      assertEquals(
        external.length,
        [...floats.initializers.values()].filter((t) => t.dtype === "float32").length,
      );
      for (const t of external) {
        const offset = Number(t.externalData!.find((e) => e.key === "offset")!.value);
        assertEquals(offset % 4096, 0);
      }
      const engine = await createOrtSession(`${dir}/w.onnx`, { threads: 1 });
      const y = await engine.run(input.data as Float32Array, input.shape);
      await engine.dispose();
      const error = relativeError(y.data, logits.data as Float32Array);
      assert(error < 1e-4, `relative error ${error}`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
    await assertRejects(
      () => exportOnnxWithExternalData(planResNet(spec), weights, "../w.data"),
      RangeError,
      "plain file name",
    );
  },
});

Deno.test({
  name: "createOrtSession checks the input length and reports the model's names",
  ignore: noOrt,
  fn: async () => {
    const model = createModel("cifar_resnet20");
    const engine = await createOrtSession(await exportOnnx(model.plan, model.weights));
    assertEquals([engine.inputName, engine.outputName], ["input", "logits"]);
    let error: unknown;
    await engine.run(new Float32Array(10), [1, 3, 32, 32]).catch((e) => (error = e));
    assert(error instanceof RangeError && error.message.includes("shape [1,3,32,32] needs 3072"));
    await engine.dispose();
  },
});

Deno.test("ortAvailable is false, not an exception, when the native addon may not load", async () => {
  // Without --allow-ffi Deno refuses to load the addon.
  const script =
    `import { ortAvailable } from "${new URL("../runtime/ort.ts", import.meta.url)}";\n` +
    "console.log(JSON.stringify(await ortAvailable()));";
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      "--allow-read",
      "--allow-env",
      "--config",
      here("../deno.json"),
      "-",
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(script));
  await writer.close();
  const { code, stdout, stderr } = await child.output();
  assertEquals(code, 0, new TextDecoder().decode(stderr));
  assertEquals(new TextDecoder().decode(stdout).trim(), "false");
});

Deno.test({
  name:
    "preprocessing and class names go into metadata_props, read back by readOnnx and the importer",
  ignore: noOrt,
  fn: async () => {
    const model = createModel("cifar_resnet20");
    const names = ["plane", "car", "bird", "kitty", "deer", "doggo", "frog", "horse", "ship", "x"];
    const preprocess = { size: [32, 32] as [number, number], mode: "torch" as const };
    const options: OnnxExportOptions = { preprocess, labels: names };
    const bytes = await exportOnnx(model.plan, model.weights, options);
    assertEquals(await exportOnnx(model.plan, model.weights, options), bytes, "deterministic");
    const onnxModel = await readOnnx(bytes, "x.onnx");
    assertEquals(onnxModel.metadataProps, [
      ["denozoo.preprocess", JSON.stringify(preprocess)],
      ["denozoo.class_names", JSON.stringify(names)],
    ]);
    const imported = await importBytes(bytes, "x.onnx");
    assertEquals(imported.usage, { preprocess, labels: names });
    const external = await exportOnnxWithExternalData(model.plan, model.weights, "x.onnx.data", {
      labels: "cifar10",
    });
    const props = onnx.ModelProto.decode(external.model).metadataProps;
    assertEquals(props.map(({ key, value }) => [key, value]), [["denozoo.labels", "cifar10"]]);
    // onnxruntime ignores metadata_props, but must load the file.
    const session = await createOrtSession(bytes, { threads: 1 });
    const y = await session.run(new Float32Array(2 * 3 * 32 * 32), [2, 3, 32, 32]);
    assertEquals(y.shape, [2, 10]);
    await session.dispose();
    // Without them, an export records nothing.
    const plain = await readOnnx(await exportOnnx(model.plan, model.weights), "plain.onnx");
    assertEquals(plain.metadataProps, []);
    assertEquals(
      (await importBytes(await exportOnnx(model.plan, model.weights), "p.onnx")).usage,
      {},
    );
    model.dispose();
  },
});

Deno.test("class names that do not number the classifier's outputs are refused", async () => {
  const model = createModel("cifar_resnet20");
  await assertRejects(
    () => exportOnnx(model.plan, model.weights, { labels: ["kitty", "doggo"] }),
    RangeError,
    "2 class names for the exported model, which has 10 classes",
  );
  const features = planResNet(model.spec, { includeTop: false });
  const backbone = new Map(
    [...model.weights].filter(([name]) => !name.startsWith(`${model.spec.naming.dense}/`)),
  );
  await assertRejects(
    () => exportOnnx(features, backbone, { labels: "cifar10" }),
    RangeError,
    "class names need a model with a classifier",
  );
  model.dispose();
});
