import { assert, assertEquals } from "@std/assert";
import { inputMismatch, isOutOfMemory } from "./input_check.ts";

Deno.test("inputMismatch explains rank and layout, and passes what fits", () => {
  assertEquals(inputMismatch([4, 32, 32, 3], "nhwc", 3), undefined);
  assertEquals(inputMismatch([4, 3, 32, 32], "nchw", 3), undefined);
  assertEquals(inputMismatch([4, 7, 9, 5], "nhwc", undefined), undefined);
  assertEquals(
    inputMismatch([1000, 3, 32, 32], "nhwc", 3, (other) => `pass --input-layout ${other}`),
    "expected a batch [batch, height, width, channels] with 3 channels last, got shape " +
      "[1000,3,32,32]: it looks NCHW (3 channels on axis 1); pass --input-layout nchw",
  );
  assertEquals(
    inputMismatch([2, 32, 32, 3], "nchw", 3, (other) => `pass --input-layout ${other}`),
    "expected a batch [batch, channels, height, width] with 3 channels on axis 1, got shape " +
      "[2,32,32,3]: it looks NHWC (3 channels on axis 3); pass --input-layout nhwc",
  );
  assertEquals(
    inputMismatch([2, 32, 32, 1], "nhwc", 3),
    "expected a batch [batch, height, width, channels] with 3 channels last, got shape [2,32,32,1]",
  );
  assertEquals(
    inputMismatch([3, 32, 32], "nchw", 3),
    "expected a 4-D batch [batch, channels, height, width], got shape [3,32,32] (3-D): add a batch axis",
  );
});

Deno.test("out-of-memory errors are told from other errors", () => {
  // What tfjs-wasm throws when an allocation fails (tests/predict_stream_test.ts makes one).
  assert(isOutOfMemory(new WebAssembly.RuntimeError("memory access out of bounds")));
  assert(isOutOfMemory(new Error("Aborted(OOM)")));
  assert(isOutOfMemory(new RangeError("Array buffer allocation failed")));
  assert(!isOutOfMemory(new Error("Index out of range")));
  assert(!isOutOfMemory(new TypeError("Cannot read properties of undefined (reading 'backend')")));
});
