import { assert, assertAlmostEquals, assertEquals, assertThrows } from "@std/assert";
import {
  dequantizeKernel,
  quantizedNodes,
  quantizeKernel,
  restoredWeights,
  storedTensors,
  uint8Parameters,
} from "./quantize.ts";
import { getSpec } from "../arch/presets.ts";
import { planResNet } from "../arch/plan.ts";
import { initialWeights } from "../arch/weights.ts";
import { batchNormAffine, foldBatchNorm } from "../arch/fold.ts";
import { readSafetensors, writeSafetensors } from "../formats/safetensors.ts";
import { ZooFormatError } from "../arch/errors.ts";
import { importFile } from "./import.ts";

Deno.test("int8 kernels: symmetric per output channel, the largest magnitude at ±127", () => {
  // HWIO 1×1×2×3: output channel = index % 3.
  const data = new Float32Array([0.5, -1, 0, -0.25, 0.75, 0]);
  const { values, scales } = quantizeKernel(data, 3);
  assertEquals([...scales], [0.5 / 127, 1 / 127, 1].map(Math.fround));
  assertEquals([...values], [127, -127, 0, -64, 95, 0]);
  // Halves round away from zero, so −x and x stay opposite.
  assertEquals([...quantizeKernel(new Float32Array([1, 0.5 / 127, -0.5 / 127]), 1).values], [
    127,
    1,
    -1,
  ]);
  // The same kernel with the channels first (OIHW) gives the same values, transposed.
  const first = quantizeKernel(new Float32Array([0.5, -0.25, -1, 0.75, 0, 0]), 3, "first");
  assertEquals([...first.values], [127, -64, -127, 95, 0, 0]);
  const back = dequantizeKernel({ values, scales });
  data.forEach((v, i) => assertAlmostEquals(back[i], v, scales[i % 3] / 2 + 1e-7));
});

Deno.test("folding a BatchNorm into an int8 kernel re-quantizes to the same values", async () => {
  // A real checkpoint: each output channel is multiplied by gamma/sqrt(var + eps) when folded,
  // which per-channel symmetric quantization absorbs into the channel's scale exactly.
  const { spec, weights } = await importFile("testdata/cifar10-resnet/resnet20-12fca82f.th");
  const plan = planResNet(spec);
  const stored = restoredWeights(
    readSafetensors(writeSafetensors(storedTensors(plan, weights, "int8")), "m").tensors,
    "int8",
    "m",
  );
  let convs = 0;
  plan.nodes.forEach((node, index) => {
    const bn = plan.nodes[index + 1];
    if (node.op !== "conv" || bn?.op !== "bn") return;
    const stored8 = quantizeKernel(stored.get(`${node.name}/kernel`)!.data, node.outChannels);
    const folded = foldBatchNorm(node, bn, stored);
    const folded8 = quantizeKernel(folded.kernel, node.outChannels);
    const { scale } = batchNormAffine(bn, stored);
    const sign = (i: number) => Math.sign(scale[i % node.outChannels]);
    const differ = folded8.values.filter((v, i) => v !== stored8.values[i] * sign(i)).length;
    assertEquals(differ, 0, node.name);
    convs++;
  });
  assertEquals(convs, 19);
});

Deno.test("stored precisions: float16 as F16, int8 kernels as I8 with scales, float32 first", () => {
  const plan = planResNet(getSpec("cifar_resnet20"));
  const weights = initialWeights(plan, 3);
  const half = storedTensors(plan, weights, "float16");
  assert(half.every((t) => t.dtype === "float16"));
  const int8 = storedTensors(plan, weights, "int8");
  const firstInt8 = int8.findIndex((t) => t.dtype === "int8");
  assertEquals(int8.slice(firstInt8).every((t) => t.dtype === "int8"), true);
  assertEquals(int8.filter((t) => t.dtype === "int8").length, 20); // 19 convs and the dense
  assertEquals(int8.find((t) => t.name === "linear/kernel_scale")?.shape, [10]);
  const back = restoredWeights(readSafetensors(writeSafetensors(int8), "m").tensors, "int8", "m");
  assertEquals([...back.keys()].sort(), [...weights.keys()].sort());
  assertEquals(back.get("bn1/gamma")?.data, weights.get("bn1/gamma")?.data);
});

Deno.test("int8 kernels with bad values or scales are refused, naming the tensor", () => {
  const kernel = { name: "conv1/kernel", shape: [1, 1, 1, 2], dtype: "int32" as const };
  const scale = { name: "conv1/kernel_scale", shape: [2], dtype: "float32" as const };
  const read = (k: Int32Array, s: Float32Array) =>
    restoredWeights([{ ...kernel, data: k }, { ...scale, data: s }], "int8", "bad.safetensors");
  assertEquals(
    [...read(Int32Array.of(127, -2), Float32Array.of(0.5, 1)).get("conv1/kernel")!.data],
    [63.5, -2],
  );
  assertThrows(
    () => read(Int32Array.of(128, 0), Float32Array.of(1, 1)),
    ZooFormatError,
    "outside −127…127",
  );
  assertThrows(
    () => read(Int32Array.of(1, 0), Float32Array.of(1, 0)),
    ZooFormatError,
    "'conv1/kernel_scale' must be 2 positive float32 scales",
  );
  assertThrows(
    () => restoredWeights([{ ...kernel, data: Int32Array.of(1, 2) }], "float32", "f.safetensors"),
    ZooFormatError,
    "tensor 'conv1/kernel' is not float32",
  );
});

Deno.test("quantized activations: what convs, adds, pools and the dense layer read", () => {
  const plan = planResNet(getSpec("resnet50"));
  const nodes = quantizedNodes(plan);
  const ops = nodes.map((i) => plan.nodes[i].op);
  // The input, the stem ReLU (read by the max-pool), then what each block's convs and add read.
  assertEquals(plan.nodes[nodes[0]].op, "input");
  assert(
    ops.every((op) => ["input", "relu", "bn", "add", "maxpool", "globalPool"].includes(op)),
    `${ops}`,
  );
  assertEquals(ops.filter((op) => op === "globalPool").length, 1);
  // Every conv's input is among them.
  for (const node of plan.nodes) if (node.op === "conv") assert(nodes.includes(node.input));
});

Deno.test("uint8 parameters: the range widened to hold 0, 0–255 spread over it", () => {
  assertEquals(uint8Parameters({ node: 0, min: 0, max: 2.55 }), {
    scale: Math.fround(0.01),
    zeroPoint: 0,
  });
  assertEquals(uint8Parameters({ node: 0, min: -1, max: 1.55 }), {
    scale: Math.fround(0.01),
    zeroPoint: 100,
  });
  assertEquals(uint8Parameters({ node: 0, min: 1, max: 2.55 }).zeroPoint, 0); // widened to 0
  assertEquals(uint8Parameters({ node: 0, min: 0, max: 0 }), { scale: 1, zeroPoint: 0 });
});
