import { assertAlmostEquals, assertEquals } from "@std/assert";
import { compareLogits, PARITY_TOLERANCE, parityHolds } from "./parity.ts";

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
