import { assert, assertEquals, assertRejects } from "@std/assert";
import onnxProto from "onnx-proto";
import { type OnnxModel, onnxTensorToFloat32, readOnnx } from "./onnx.ts";
import type { NamedTensor } from "./tensor.ts";
import { ZooFormatError } from "../arch/errors.ts";

const { onnx } = onnxProto;
const FIXTURES = "testdata/fixtures/onnx_reader";

/** What the onnx Python package reads from each fixture (written by generate.py). */
interface ExpectedModel {
  irVersion: number;
  opset: number;
  producer: string;
  graphName: string;
  inputs: { name: string; shape: (number | string)[] }[];
  outputs: { name: string; shape: (number | string)[] }[];
  nodes: { name: string; opType: string; inputs: string[]; outputs: string[] }[];
  initializers: { name: string; shape: number[]; values: (number | string)[] }[];
}

const expected: Record<string, ExpectedModel> = JSON.parse(
  await Deno.readTextFile(`${FIXTURES}/expected.json`),
);

function load(name: string): Promise<OnnxModel> {
  const file = `${FIXTURES}/${name}`;
  return readOnnx(Deno.readFileSync(file), file);
}

/** A tensor's elements as a plain array, for assertEquals. */
function elements(tensor: NamedTensor): (number | bigint)[] {
  return Array.from(tensor.data as ArrayLike<number | bigint>);
}

/** Exact element comparison; float64 sources are compared after rounding to float32. */
function assertValues(tensor: NamedTensor, values: (number | string)[]): void {
  assertEquals(tensor.data.length, values.length, tensor.name);
  const actual = elements(tensor);
  const want = values.map((v) =>
    tensor.dtype === "int64" ? BigInt(v) : tensor.dtype === "float32" ? Math.fround(Number(v)) : v
  );
  assertEquals(actual, want, tensor.name);
}

for (const name of ["basic.onnx", "external.onnx", "tiny_conv.onnx"]) {
  Deno.test(`readOnnx ${name} matches what the onnx Python package reads`, async () => {
    const model = await load(name);
    const reference = expected[name];
    assertEquals(model.irVersion, reference.irVersion);
    assertEquals(model.opset, reference.opset);
    assertEquals(model.producer, reference.producer);
    assertEquals(model.graph.name, reference.graphName);
    assertEquals(model.graph.inputs, reference.inputs);
    assertEquals(model.graph.outputs, reference.outputs);
    assertEquals(
      model.graph.nodes.map(({ name, opType, inputs, outputs }) => ({
        name,
        opType,
        inputs,
        outputs,
      })),
      reference.nodes,
    );
    assertEquals([...model.graph.initializers.keys()], reference.initializers.map((i) => i.name));
    for (const { name: tensorName, shape, values } of reference.initializers) {
      const tensor = model.graph.initializers.get(tensorName)!;
      assertEquals(tensor.name, tensorName);
      assertEquals(tensor.shape, shape, tensorName);
      assertValues(tensor, values);
    }
  });
}

Deno.test("readOnnx decodes each storage to the right element type", async () => {
  const { initializers } = (await load("basic.onnx")).graph;
  const kinds = Object.fromEntries(
    [...initializers].map(([name, t]) => [name, `${t.dtype}/${t.data.constructor.name}`]),
  );
  assertEquals(kinds, {
    w_raw: "float32/Float32Array",
    w_typed: "float32/Float32Array",
    w_half: "float32/Float32Array",
    w_half_typed: "float32/Float32Array",
    w_bf16_raw: "float32/Float32Array",
    w_bf16_typed: "float32/Float32Array",
    w_double: "float32/Float32Array",
    w_double_typed: "float32/Float32Array",
    shape_i64: "int64/BigInt64Array",
    i64_typed: "int64/BigInt64Array",
    i32: "int32/Int32Array",
    i8_typed: "int32/Int32Array",
    i16: "int32/Int32Array",
    u16: "int32/Int32Array",
    u8: "uint8/Uint8Array",
    flags: "bool/Uint8Array",
    scalar: "float32/Float32Array",
  });
  // Spot checks independent of expected.json: half subnormal, int64 beyond 2^53, float64 narrowing.
  assertEquals(elements(initializers.get("w_half")!).slice(2, 5), [2 ** -14, 2 ** -24, 65504]);
  assertEquals(elements(initializers.get("i64_typed")!), [-(2n ** 62n), 3n]);
  assertEquals(elements(initializers.get("shape_i64")!), [2n ** 40n + 1n, -1n, 7n]);
  assertEquals(elements(initializers.get("w_double")!), [Math.fround(0.1), 2.5]);
  assertEquals(initializers.get("scalar")!.shape, []);
  assertEquals(elements(initializers.get("scalar")!), [3.5]);
});

Deno.test("readOnnx decodes attributes of every kind and Constant tensors", async () => {
  const [constant, conv, allKinds] = (await load("basic.onnx")).graph.nodes;
  assertEquals(Object.keys(constant.attributes), ["value"]);
  const { name, shape, dtype, data } = constant.attributes.value as NamedTensor;
  assertEquals({ name, shape, dtype, data }, {
    name: "c0_value",
    shape: [1, 2],
    dtype: "float32",
    data: new Float32Array([1.5, 2.5]),
  });
  assertEquals(conv.domain, "");
  assertEquals(conv.attributes, {
    kernel_shape: [3, 3],
    pads: [1, 1, 1, 1],
    strides: [2, 2],
    group: 1,
    auto_pad: "NOTSET",
  });
  assertEquals(allKinds.domain, "com.example");
  assertEquals(allKinds.attributes, {
    an_int: -3,
    a_float: 0.25,
    a_string: "héllo",
    some_ints: [1, -2, 2 ** 40],
    some_floats: [0.5, -1.5],
    some_strings: ["a", "bc"],
  });
});

Deno.test("readOnnx reads torch.onnx.export output: folded onnx::Conv_* tensors, Long dims", async () => {
  const { graph, producer } = await load("tiny_conv.onnx");
  assertEquals(producer, "pytorch");
  assertEquals(graph.nodes.map((n) => n.opType), [
    "Conv",
    "Relu",
    "GlobalAveragePool",
    "Flatten",
    "Gemm",
  ]);
  const conv = graph.nodes[0];
  assert(/^onnx::Conv_\d+$/.test(conv.inputs[1]), conv.inputs[1]);
  const weight = graph.initializers.get(conv.inputs[1])!;
  const bias = graph.initializers.get(conv.inputs[2])!;
  assertEquals(weight.shape, [4, 3, 3, 3]);
  assert(weight.shape.every((d) => typeof d === "number"));
  assertEquals(bias.shape, [4]);
  assertEquals(conv.attributes.kernel_shape, [3, 3]);
  assertEquals(graph.nodes[4].attributes.transB, 1);
  assertEquals(graph.initializers.get("fc.weight")!.shape, [2, 4]);
  assertEquals(graph.inputs, [{ name: "input", shape: ["batch", 3, 8, 8] }]);
});

Deno.test("readOnnx copies raw_data that sits at an unaligned offset", async () => {
  const bytes = Deno.readFileSync(`${FIXTURES}/tiny_conv.onnx`);
  const reference = (await load("tiny_conv.onnx")).graph.initializers;
  for (const shift of [1, 2, 3]) {
    const padded = new Uint8Array(bytes.length + shift);
    padded.set(bytes, shift);
    const shifted = (await readOnnx(padded.subarray(shift), "tiny_conv.onnx")).graph.initializers;
    for (const [name, tensor] of reference) assertEquals(shifted.get(name), tensor);
  }
});

Deno.test("readOnnx reads external data from externalDataDir", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.copyFile(`${FIXTURES}/weights.bin`, `${dir}/weights.bin`);
    const bytes = Deno.readFileSync(`${FIXTURES}/external.onnx`);
    const model = await readOnnx(bytes, "somewhere/else/external.onnx", { externalDataDir: dir });
    assertEquals(model.graph.initializers.get("fc_b")!.data, new Float32Array([1, -2, 0.125]));
    assertEquals(model.graph.initializers.get("shape")!.data, new BigInt64Array([1n, -1n]));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readOnnx names the model and the missing external data file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.copyFile(`${FIXTURES}/external.onnx`, `${dir}/external.onnx`);
    const error = await assertRejects(
      () => readOnnx(Deno.readFileSync(`${dir}/external.onnx`), `${dir}/external.onnx`),
      ZooFormatError,
    );
    assertEquals(
      error.message,
      `${dir}/external.onnx: external data file '${dir}/weights.bin' (tensor 'fc_w') not found`,
    );
    assertEquals(error.file, `${dir}/external.onnx`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readOnnx rejects external data shorter than the tensor", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const weights = Deno.readFileSync(`${FIXTURES}/weights.bin`);
    await Deno.writeFile(`${dir}/weights.bin`, weights.subarray(0, 40));
    await assertRejects(
      () =>
        readOnnx(Deno.readFileSync(`${FIXTURES}/external.onnx`), "external.onnx", {
          externalDataDir: dir,
        }),
      ZooFormatError,
      "external.onnx: external tensor 'fc_w' at offset 0, length 48 lies beyond the 40 bytes of 'weights.bin'",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readOnnx rejects a truncated file", async () => {
  const bytes = Deno.readFileSync(`${FIXTURES}/basic.onnx`);
  await assertRejects(
    () => readOnnx(bytes.subarray(0, Math.floor(bytes.length / 2)), "basic.onnx"),
    ZooFormatError,
    "basic.onnx: not a valid ONNX model (protobuf decoding failed",
  );
});

/** Encodes a one-initializer model, for the malformed cases no real writer produces. */
function modelWith(
  tensor: onnxProto.onnx.ITensorProto,
  opsetImport: onnxProto.onnx.IOperatorSetIdProto[] = [{ domain: "", version: 13 }],
): Uint8Array {
  return onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport,
    graph: { name: "g", initializer: [tensor] },
  }).finish();
}

Deno.test("readOnnx rejects malformed tensors and models", async () => {
  const float = onnx.TensorProto.DataType.FLOAT;
  const cases: [Uint8Array, string][] = [
    [
      modelWith({ name: "w", dims: [3], dataType: float, rawData: new Uint8Array(8) }),
      "m.onnx: tensor 'w' (FLOAT [3]) has 8 bytes of data, expected 12",
    ],
    [
      modelWith({ name: "w", dims: [3], dataType: float, floatData: [1, 2] }),
      "m.onnx: tensor 'w' (FLOAT [3]) has 2 values, expected 3",
    ],
    [
      modelWith({ name: "s", dims: [1], dataType: onnx.TensorProto.DataType.STRING }),
      "m.onnx: tensor 's' has unsupported data type STRING",
    ],
    [
      modelWith({ name: "w", dims: [1], dataType: float, floatData: [1] }, [
        { domain: "com.example", version: 1 },
      ]),
      "m.onnx: model imports no opset for the default ONNX domain",
    ],
    [
      modelWith({
        name: "w",
        dims: [1],
        dataType: float,
        dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
        externalData: [{ key: "location", value: "../secret.bin" }],
      }),
      "m.onnx: external tensor 'w' location '../secret.bin' must be a relative path inside",
    ],
    [onnx.ModelProto.encode({ irVersion: 8 }).finish(), "m.onnx: model has no graph"],
  ];
  for (const [bytes, message] of cases) {
    await assertRejects(() => readOnnx(bytes, "m.onnx"), ZooFormatError, message);
  }
});

Deno.test("onnxTensorToFloat32 converts any element type", async () => {
  const { initializers } = (await load("basic.onnx")).graph;
  const raw = initializers.get("w_raw")!;
  assert(onnxTensorToFloat32(raw) === raw.data);
  assertEquals(
    onnxTensorToFloat32(initializers.get("i64_typed")!),
    new Float32Array([-(2 ** 62), 3]),
  );
  assertEquals(onnxTensorToFloat32(initializers.get("u8")!), new Float32Array([0, 255]));
});
