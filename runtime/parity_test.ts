import { assertAlmostEquals, assertEquals } from "@std/assert";
import {
  compareLogits,
  PARITY_TOLERANCE,
  parityHolds,
  type ReferenceRun,
  verifyImport,
} from "./parity.ts";
import { importFile } from "../convert/import.ts";
import { readOnnx } from "../formats/onnx.ts";
import { createModel } from "./model.ts";
import { createOrtSession } from "./ort.ts";
import { ortEngine } from "./engine.ts";
import { useBackend } from "./backend.ts";

await useBackend("cpu");

Deno.test("equal logits: no difference, every row agrees", () => {
  const logits = new Float32Array([0.5, -2, 3, 1, 7, -1]);
  const parity = compareLogits(logits, logits.slice(), 2);
  assertEquals(parity, { maxAbsDiff: 0, relativeError: 0, top1Agreement: 2, batch: 2 });
  assertEquals(parityHolds(parity), true);
});

Deno.test("the difference is the largest one, relative to the largest reference logit", () => {
  const expected = new Float32Array([10, -20, 5, 1, 2, 3]);
  const got = new Float32Array([10.0005, -20, 5, 1, 2, 3.001]);
  const parity = compareLogits(got, expected, 2);
  assertAlmostEquals(parity.maxAbsDiff, 0.001, 1e-6);
  assertAlmostEquals(parity.relativeError, 0.001 / 20, 1e-7);
  assertEquals(parity.top1Agreement, 2);
  // 5e-5 relative: within the default tolerance, outside a stricter one.
  assertEquals(parityHolds(parity), true);
  assertEquals(parityHolds(parity, 1e-5), false);
  assertEquals(PARITY_TOLERANCE, 1e-4);
});

Deno.test("a row whose best class moves fails, however small the difference", () => {
  const expected = new Float32Array([1, 1.000001, 0, 0, 5, 0]);
  const got = new Float32Array([1.000002, 1.000001, 0, 0, 5, 0]);
  const parity = compareLogits(got, expected, 2);
  assertEquals(parity.top1Agreement, 1);
  assertEquals(parity.relativeError < PARITY_TOLERANCE, true);
  assertEquals(parityHolds(parity), false);
});

Deno.test("verifyImport runs the converted model on a given engine, NCHW and NHWC sources alike", async () => {
  for (
    const path of [
      "testdata/fixtures/nets/tv_basic.onnx",
      "testdata/fixtures/checkpoints/nhwc_resnet.onnx",
    ]
  ) {
    const { spec, weights, sourceLayout } = await importFile(path);
    const model = createModel(spec, { weights });
    const session = await createOrtSession(path);
    const reference: ReferenceRun = {
      name: "onnxruntime",
      layout: sourceLayout!,
      declared: (await readOnnx(await Deno.readFile(path), path)).graph.inputs[0]?.shape ?? [],
      run: async (input, shape) => (await session.run(input, shape)).data,
    };
    const engine = await ortEngine(model);
    const [onTfjs, onOrt] = [
      await verifyImport(model, reference),
      await verifyImport(model, reference, engine),
    ];
    await engine.dispose();
    await session.dispose();
    model.dispose();
    assertEquals([parityHolds(onTfjs), parityHolds(onOrt)], [true, true], path);
    assertEquals(onOrt.batch, onTfjs.batch);
  }
});
