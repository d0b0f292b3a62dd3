/**
 * int8 exports (QDQ) of every block family: onnxruntime runs them, fuses every convolution and
 * residual add into int8 kernels (read off the graph it optimises), and computes what the float32
 * export does to within int8 rounding.
 *
 * @module
 */

import { assert, assertEquals, assertRejects } from "@std/assert";
import { exportOnnx } from "./onnx_export.ts";
import { readOnnx } from "../formats/onnx.ts";
import { planResNet } from "../arch/plan.ts";
import type { ResNetSpec } from "../arch/spec.ts";
import { getSpec } from "../arch/presets.ts";
import { createModel } from "../runtime/model.ts";
import { calibrateRanges } from "../runtime/calibrate.ts";
import { loadOrt, ortAvailable } from "../runtime/ort.ts";
import { importFile } from "./import.ts";
import { relativeError } from "../tests/helpers.ts";

const noOrt = !(await ortAvailable());

/** Deterministic uniform numbers in [-1, 1) (an LCG). */
function noise(length: number, seed: number): Float32Array {
  let state = seed >>> 0;
  return new Float32Array(length).map(() => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return (state / 4294967296) * 2 - 1;
  });
}

/** Runs an export on an NCHW batch; `optimized` receives the graph onnxruntime optimised. */
async function run(bytes: Uint8Array, x: Float32Array, shape: number[], optimized?: string) {
  const ort = await loadOrt();
  const session = await ort.InferenceSession.create(bytes, {
    intraOpNumThreads: 1,
    graphOptimizationLevel: "all",
    ...(optimized ? { optimizedModelFilePath: optimized } : {}),
  });
  const out = await session.run({ input: new ort.Tensor("float32", x, shape) });
  await session.release();
  return out.logits.data as Float32Array;
}

const CASES: { spec: ResNetSpec; size: number; maxError: number }[] = [
  // Errors measured: 0.011, 0.017, 0.018, 0.032, 0.022, 0.020 (relative to float32's logits).
  { spec: getSpec("cifar_resnet20"), size: 32, maxError: 0.05 },
  { spec: getSpec("resnet18"), size: 64, maxError: 0.05 },
  { spec: getSpec("keras_resnet50"), size: 64, maxError: 0.05 },
  { spec: getSpec("resnet50v2"), size: 64, maxError: 0.05 },
  // Grouped convolutions; ECA attention (its 1-D channel convs stay float), avg-down, deep stem.
  { spec: getSpec("resnext50_32x4d"), size: 32, maxError: 0.05 },
  { spec: getSpec("ecaresnet50d"), size: 32, maxError: 0.05 },
];

for (const { spec, size, maxError } of CASES) {
  Deno.test({
    name: `${spec.name}: the int8 export fuses to int8 kernels and tracks float32`,
    ignore: noOrt,
    fn: async () => {
      const model = createModel(spec, { seed: 5 });
      const plan = planResNet(spec);
      const x = noise(4 * size * size * 3, 9);
      const ranges = await calibrateRanges(plan, model.weights, [
        { data: x, shape: [4, size, size, 3] },
      ]);
      const calibration = { method: "minmax" as const, images: 4, sha256: "0".repeat(64), ranges };
      const int8 = await exportOnnx(plan, model.weights, { calibration, layout: "nhwc" });
      const float = await exportOnnx(plan, model.weights, { layout: "nhwc" });
      const dir = await Deno.makeTempDir();
      try {
        const optimized = `${dir}/optimized.onnx`;
        const shape = [4, size, size, 3];
        const error = relativeError(
          await run(int8, x, shape, optimized),
          await run(float, x, shape),
        );
        console.log(`${spec.name}: int8 logits ${error.toFixed(3)} from float32 (relative)`);
        assert(error < maxError, `${spec.name}: relative error ${error}`);
        const nodes = (await readOnnx(await Deno.readFile(optimized), optimized)).graph.nodes;
        const ops = nodes.map((node) => node.opType);
        const count = (op: string) => ops.filter((o) => o === op).length;
        // Every convolution of the network runs as an int8 kernel. (onnxruntime turns a
        // pre-activation net's standalone BatchNorms into float depthwise Convs of its own.)
        const int8Weights = new Set(
          nodes.filter((n) => n.opType === "QLinearConv").flatMap((n) => n.inputs),
        );
        for (const node of plan.nodes) {
          if (node.op === "conv") assert(int8Weights.has(`${node.name}.weight`), node.name);
        }
        // So does every residual add of a v1 net; in a pre-activation net an add whose result
        // only a BatchNorm reads, or whose shortcut is subsampled, stays float.
        const adds = plan.nodes.filter((n) => n.op === "add").length;
        if (!spec.preact) assertEquals([count("QLinearAdd"), count("Add")], [adds, 0], `${ops}`);
        assertEquals(count("QGemm"), 1);
        // ReLUs before a quantization to an unsigned range are the quantization's own clipping.
        assertEquals(count("Relu"), 0, `${ops}`);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}

Deno.test({
  name: "a real checkpoint's int8 export keeps top-1 on its calibration images",
  ignore: noOrt,
  fn: async () => {
    const { spec, weights } = await importFile("testdata/cifar10-resnet/resnet20-12fca82f.th");
    const plan = planResNet(spec);
    const x = noise(8 * 32 * 32 * 3, 3).map((v) => v * 2);
    const ranges = await calibrateRanges(plan, weights, [{ data: x, shape: [8, 32, 32, 3] }]);
    const calibration = { method: "minmax" as const, images: 8, sha256: "0".repeat(64), ranges };
    const int8 = await run(await exportOnnx(plan, weights, { calibration, layout: "nhwc" }), x, [
      8,
      32,
      32,
      3,
    ]);
    const float = await run(await exportOnnx(plan, weights, { layout: "nhwc" }), x, [8, 32, 32, 3]);
    const best = (logits: Float32Array, n: number) => {
      const row = logits.subarray(n * 10, n * 10 + 10);
      return row.indexOf(Math.max(...row));
    };
    for (let n = 0; n < 8; n++) assertEquals(best(int8, n), best(float, n), `image ${n}`);
  },
});

Deno.test("a GroupNorm network gets no int8 graph: it stays float32, with the reason", async () => {
  const model = createModel("resnetv2_50x1_bit", { seed: 1 });
  const calibration = { method: "minmax" as const, images: 1, sha256: "0".repeat(64), ranges: [] };
  await assertRejects(
    () => exportOnnx(model.plan, model.weights, { calibration }),
    RangeError,
    "a GroupNorm network (BiT) stays float32",
  );
});
