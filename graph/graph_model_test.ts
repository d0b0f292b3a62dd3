import { assertEquals } from "@std/assert";
import { describeOnnxGraph, loadGraphModel } from "./graph_model.ts";
import { readOnnx } from "../formats/onnx.ts";
import onnxProto from "onnx-proto";
import { useBackend } from "../runtime/backend.ts";

await useBackend("cpu");

Deno.test("a graph that ends in a softmax says it outputs probabilities", async () => {
  const cases: [string, string][] = [
    ["testdata/keras-mlperf-tiny/resnet8_cifar10.h5", "probabilities"], // Dense(10, softmax)
    ["testdata/fixtures/keras_models/keras2_nested.h5", "probabilities"], // Dense(3, softmax)
    ["testdata/fixtures/keras_models/keras3_block.keras", "logits"], // Dense(5)
    ["testdata/fixtures/onnx_ops/pools_op13.onnx", "probabilities"], // … Gemm, Softmax
    ["testdata/fixtures/onnx_ops/flatten_gemm.onnx", "logits"], // … Flatten, Gemm
    ["testdata/fixtures/onnx_ops/helper_ops.onnx", "logits"], // ends in an Identity, no Softmax
  ];
  for (const [path, outputs] of cases) {
    const graph = await loadGraphModel(await Deno.readFile(path), path);
    assertEquals(graph.outputs, outputs, path);
    graph.dispose();
  }
});

Deno.test("describeOnnxGraph tells a final softmax without loading the graph", async () => {
  const path = "testdata/fixtures/onnx_ops/grouped_op11.onnx";
  const shape = describeOnnxGraph(await readOnnx(await Deno.readFile(path), path), path);
  assertEquals([shape.classes, shape.outputs], [10, "probabilities"]);
});

Deno.test("an ONNX graph's recorded preprocessing and class names are part of its shape", async () => {
  const path = "testdata/fixtures/onnx_ops/view_op9.onnx";
  const { onnx } = onnxProto;
  const proto = onnx.ModelProto.decode(await Deno.readFile(path));
  const preprocess = { size: [16, 16], mode: "tf" };
  proto.metadataProps = [
    onnx.StringStringEntryProto.create({ key: "denozoo.labels", value: "cifar10" }),
    onnx.StringStringEntryProto.create({
      key: "denozoo.preprocess",
      value: JSON.stringify(preprocess),
    }),
  ];
  const bytes = onnx.ModelProto.encode(proto).finish();
  const graph = await loadGraphModel(bytes, "mine.onnx");
  assertEquals(graph.usage, { preprocess, labels: "cifar10" });
  graph.dispose();
  const plain = describeOnnxGraph(await readOnnx(await Deno.readFile(path), path), path);
  assertEquals("usage" in plain, false);
});
