import * as tf from "@tensorflow/tfjs-core";
import { assert, assertAlmostEquals, assertEquals, assertRejects, assertThrows } from "@std/assert";
import onnxProto from "onnx-proto";
import { loadOnnxGraph, type OnnxGraphModel } from "./load.ts";
import { readNpy } from "../../formats/npy.ts";
import { readOnnx } from "../../formats/onnx.ts";
import { ZooFormatError } from "../../arch/errors.ts";
import { useBackend } from "../../runtime/backend.ts";
import { relativeError } from "../../tests/helpers.ts";

await useBackend("wasm");

const { onnx } = onnxProto;

const OPS = new URL("../../testdata/fixtures/onnx_ops/", import.meta.url).pathname;
const NETS = new URL("../../testdata/fixtures/nets/", import.meta.url).pathname;

async function load(path: string): Promise<OnnxGraphModel> {
  return loadOnnxGraph(await readOnnx(Deno.readFileSync(path), path), path);
}

function npy(path: string): tf.Tensor {
  const t = readNpy(Deno.readFileSync(path), path);
  return tf.tensor(t.data as Float32Array, t.shape, "float32");
}

/** {@link relativeError} of two tensors, after checking the shapes agree. */
function tensorError(actual: tf.Tensor, expected: tf.Tensor): number {
  assertEquals(actual.shape, expected.shape);
  return relativeError(actual.dataSync(), expected.dataSync());
}

/** Runs `input` through the model and checks it reproduces `output` within 1e-4 relative. */
function assertParity(graph: OnnxGraphModel, input: string, output: string): number {
  const x = npy(input);
  const expected = npy(output);
  const y = graph.predict(x);
  const error = tensorError(y, expected);
  const name = input.slice(input.lastIndexOf("/") + 1);
  console.log(`  ${name}: output [${y.shape}], relative error ${error.toExponential(2)}`);
  tf.dispose([x, y, expected]);
  assert(error < 1e-4, `${name}: relative error ${error}`);
  return error;
}

const OP_FIXTURES: { name: string; covers: string }[] = [
  {
    name: "flatten_gemm",
    covers: "Sub/Div constants, BN-folded conv, layout-sensitive Flatten→Gemm",
  },
  { name: "grouped_op11", covers: "grouped, depthwise, dilated, strided-dilated conv, Pad, Clip" },
  {
    name: "pools_op13",
    covers: "AveragePool both ways, ceil MaxPool, Slice, Pad, MatMul, Softmax",
  },
  { name: "layout_op14", covers: "BN, 5-D Reshape/Transpose, 4-D MatMul, ReduceMean, HardSwish" },
  {
    name: "computed_op11",
    covers: "reflect Pad, Gather, MatMul of computed tensors, 5-D Unsqueeze",
  },
  { name: "helper_ops", covers: "auto_pad, count_include_pad=1, Gemm alpha/beta/transA, Range" },
];

for (const { name, covers } of OP_FIXTURES) {
  Deno.test(`onnx graph: ${name} matches torch (${covers})`, async () => {
    const graph = await load(`${OPS}${name}.onnx`);
    assertParity(graph, `${OPS}${name}_input.npy`, `${OPS}${name}_output.npy`);
    graph.dispose();
  });
}

Deno.test("onnx graph: opset-9 Shape/Gather/Unsqueeze/Concat/Reshape flatten, per batch size", async () => {
  const graph = await load(`${OPS}view_op9.onnx`);
  assertEquals(graph.inputName, "input");
  assertEquals(graph.inputShape, ["batch", 3, 16, 16]);
  assertParity(graph, `${OPS}view_op9_input.npy`, `${OPS}view_op9_output.npy`); // batch 2
  assertParity(graph, `${OPS}view_op9_input_1.npy`, `${OPS}view_op9_output_1.npy`); // batch 3
  // Schedules are cached per shape: the first shape still runs after the second was compiled.
  assertParity(graph, `${OPS}view_op9_input.npy`, `${OPS}view_op9_output.npy`);
  graph.dispose();
});

Deno.test("onnx graph: zoo fixtures through the generic path", async () => {
  for (
    const [model, stem] of [
      ["tv_basic.onnx", "tv_basic"],
      ["tv_basic_bn.onnx", "tv_basic"],
      ["tv_bottleneck.onnx", "tv_bottleneck"],
      ["tv_bottleneck_bn.onnx", "tv_bottleneck"],
      ["tv_bottleneck_op9.onnx", "tv_bottleneck"],
    ]
  ) {
    const graph = await load(`${NETS}${model}`);
    console.log(` ${model}`);
    assertParity(graph, `${NETS}${stem}_input.npy`, `${NETS}${stem}_logits.npy`);
    graph.dispose();
  }
});

Deno.test("onnx graph: dynamic height and width (tv_basic_op9 on 64×64 and 80×96)", async () => {
  const graph = await load(`${NETS}tv_basic_op9.onnx`);
  assertEquals(graph.inputShape, ["batch", 3, "height", "width"]);
  assertParity(graph, `${NETS}tv_basic_input.npy`, `${NETS}tv_basic_logits.npy`);
  assertParity(graph, `${NETS}tv_basic_input_96.npy`, `${NETS}tv_basic_logits_96.npy`);
  graph.dispose();
});

Deno.test("onnx graph: predict does not leak, dispose frees the weights", async () => {
  const before = tf.memory().numTensors;
  for (const name of ["flatten_gemm", "view_op9", "layout_op14"]) {
    const graph = await load(`${OPS}${name}.onnx`);
    const x = npy(`${OPS}${name}_input.npy`);
    tf.dispose(graph.predict(x)); // compiles a dynamic model's schedule
    const loaded = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) tf.dispose(graph.predict(x));
    assertEquals(tf.memory().numTensors, loaded, `${name}: tensors left by predict`);
    graph.dispose();
    assertThrows(() => graph.predict(x), Error, "disposed");
    x.dispose();
    assertEquals(tf.memory().numTensors, before, `${name}: tensors left after dispose`);
  }
});

Deno.test("onnx graph: the output is a fresh tensor the caller owns", async () => {
  const graph = await load(`${OPS}helper_ops.onnx`);
  const x = npy(`${OPS}helper_ops_input.npy`);
  const first = graph.predict(x);
  const second = graph.predict(x);
  first.dispose();
  assertEquals(second.shape, [2, 7]);
  assert(Number.isFinite(second.dataSync()[0]));
  tf.dispose([second, x]);
  graph.dispose();
});

Deno.test("onnx graph: an unsupported operator fails at load with type, node and opset", async () => {
  const file = `${OPS}unsupported_resize.onnx`;
  const model = await readOnnx(Deno.readFileSync(file), file);
  const error = assertThrows(() => loadOnnxGraph(model, file), ZooFormatError);
  assert(error.message.includes("Resize"), error.message);
  assert(error.message.includes("upsample0"), error.message);
  assert(error.message.includes("opset 13"), error.message);
  assert(error.message.startsWith(file), error.message);
});

Deno.test("onnx graph: an unsupported attribute value fails at load, naming the node", async () => {
  const file = `${OPS}unsupported_pad_edge.onnx`;
  const model = await readOnnx(Deno.readFileSync(file), file);
  const error = assertThrows(() => loadOnnxGraph(model, file), ZooFormatError);
  assert(error.message.includes("node 'pad_edge' (Pad, opset 13)"), error.message);
  assert(error.message.includes("mode 'edge'"), error.message);
});

/** How often each tfjs kernel runs in one predict call. */
async function kernelCounts(graph: OnnxGraphModel, input: string): Promise<Record<string, number>> {
  const x = npy(input);
  const profile = await tf.profile(() => graph.predict(x));
  tf.dispose([x, profile.result as tf.Tensor]);
  const counts: Record<string, number> = {};
  for (const kernel of profile.kernels) counts[kernel.name] = (counts[kernel.name] ?? 0) + 1;
  return counts;
}

Deno.test("onnx graph: NHWC throughout, Gemm rows permuted after a spatial flatten", async () => {
  // flatten_gemm flattens a 16×4×4 map into its classifier: the one Transpose is the NCHW→NHWC
  // entry; BN is folded and ReLU fused into the two convs.
  const graph = await load(`${OPS}flatten_gemm.onnx`);
  const counts = await kernelCounts(graph, `${OPS}flatten_gemm_input.npy`);
  assertEquals(counts.Transpose, 1);
  assertEquals(counts.FusedConv2D, 2);
  assertEquals(counts._FusedMatMul, 1);
  assertEquals([counts.Relu, counts.FusedBatchNorm, counts.Conv2D], [
    undefined,
    undefined,
    undefined,
  ]);
  graph.dispose();
  // The opset-9 view() head and the zoo nets too: one Transpose in all.
  for (
    const [model, input] of [[`${OPS}view_op9.onnx`, `${OPS}view_op9_input.npy`], [
      `${NETS}tv_bottleneck_op9.onnx`,
      `${NETS}tv_bottleneck_input.npy`,
    ]]
  ) {
    const zoo = await load(model);
    assertEquals((await kernelCounts(zoo, input)).Transpose, 1, model);
    zoo.dispose();
  }
});

/** A one-node float model written with onnx-proto, for forms no exporter writes. */
async function oneNodeModel(
  opset: number,
  node: onnxProto.onnx.INodeProto,
  inputs: [string, number[]][],
): Promise<OnnxGraphModel> {
  const value = (name: string, dims: number[]) => ({
    name,
    type: { tensorType: { elemType: 1, shape: { dim: dims.map((d) => ({ dimValue: d })) } } },
  });
  const bytes = onnx.ModelProto.encode({
    irVersion: 7,
    opsetImport: [{ domain: "", version: opset }],
    graph: {
      name: "g",
      node: [node],
      input: inputs.map(([name, dims]) => value(name, dims)),
      output: [{ name: "y" }],
    },
  }).finish();
  return loadOnnxGraph(await readOnnx(bytes, "one.onnx"), "one.onnx");
}

Deno.test("onnx graph: Softmax before opset 13 normalises over all axes from `axis` on", async () => {
  const INT = onnx.AttributeProto.AttributeType.INT;
  const node = {
    opType: "Softmax",
    input: ["x"],
    output: ["y"],
    attribute: [{ name: "axis", type: INT, i: 1 }],
  };
  const graph = await oneNodeModel(11, node, [["x", [2, 3, 2, 2]]]);
  const values = Float32Array.from({ length: 24 }, (_, i) => Math.sin(i) * 3);
  const y = graph.predict(tf.tensor(values, [2, 3, 2, 2]));
  assertEquals(y.shape, [2, 3, 2, 2]);
  const out = y.dataSync();
  for (let n = 0; n < 2; n++) {
    const row = values.subarray(n * 12, n * 12 + 12);
    const total = row.reduce((sum, v) => sum + Math.exp(v), 0);
    row.forEach((v, i) => assertAlmostEquals(out[n * 12 + i], Math.exp(v) / total, 1e-6));
  }
  y.dispose();
  graph.dispose();
});

Deno.test("onnx graph: structural limits are reported as ZooFormatError", async () => {
  const conv = { name: "c", opType: "Conv", input: ["x", "w"], output: ["y"] };
  await assertRejects(
    () => oneNodeModel(13, conv, [["x", [1, 3, 4, 4]], ["w", [2, 3, 1, 1]]]),
    ZooFormatError,
    "one.onnx: graph has 2 non-constant inputs; exactly one is supported",
  );
  const lstm = { name: "rnn", opType: "LSTM", input: ["x"], output: ["y"] };
  await assertRejects(
    () => oneNodeModel(9, lstm, [["x", [5, 1, 4]]]),
    ZooFormatError,
    "one.onnx: unsupported operator at opset 9: LSTM (node 'rnn')",
  );
});

Deno.test("onnx graph: a static model rejects an input of another shape", async () => {
  const graph = await load(`${OPS}flatten_gemm.onnx`);
  assertThrows(() => graph.predict(tf.zeros([1, 3, 16, 16])), Error, "declared [2,3,16,16]");
  graph.dispose();
});
