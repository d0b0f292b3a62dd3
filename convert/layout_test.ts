import { assert, assertEquals, assertThrows } from "@std/assert";
import {
  deferTranspose,
  hwioToOihw,
  linearToDense,
  oihwToHwio,
  transpose,
  transposeInto,
} from "./layout.ts";
import { lazyFloat32Tensor } from "../formats/raw.ts";

/** A slow, obviously right permutation to check the tiled one against. */
function naiveTranspose(data: Float32Array, shape: number[], perm: number[]): Float32Array {
  const outShape = perm.map((p) => shape[p]);
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  const out = new Float32Array(data.length);
  const index = new Array(shape.length).fill(0);
  for (let o = 0; o < out.length; o++) {
    let rest = o;
    for (let d = outShape.length - 1; d >= 0; d--) {
      index[perm[d]] = rest % outShape[d];
      rest = Math.floor(rest / outShape[d]);
    }
    out[o] = data[index.reduce((sum, v, d) => sum + v * strides[d], 0)];
  }
  return out;
}

const values = (n: number) => Float32Array.from({ length: n }, (_, i) => i * 0.5 - 7);

Deno.test("oihwToHwio and its inverse match a naive permutation on 1×1, 3×3 and 7×7 kernels", () => {
  for (const shape of [[40, 33, 1, 1], [37, 19, 3, 3], [8, 3, 7, 7]]) {
    const data = values(shape.reduce((a, b) => a * b, 1));
    const hwio = oihwToHwio({ shape, data });
    assertEquals(hwio.shape, [shape[2], shape[3], shape[1], shape[0]]);
    assertEquals(hwio.data, naiveTranspose(data, shape, [2, 3, 1, 0]));
    assertEquals(hwioToOihw(hwio).data, data);
  }
  const dense = linearToDense({ shape: [10, 70], data: values(700) });
  assertEquals(dense.data, naiveTranspose(values(700), [10, 70], [1, 0]));
});

Deno.test("a reader's float32 tensor is transposed from its file bytes at any alignment", () => {
  const shape = [17, 5, 3, 3];
  const data = values(17 * 5 * 9);
  const expected = naiveTranspose(data, shape, [2, 3, 1, 0]);
  for (const offset of [0, 1, 2, 3, 4]) {
    // The tensor's bytes inside a larger "file", as raw_data inside a protobuf lies.
    const file = new Uint8Array(offset + data.byteLength + 5);
    file.set(new Uint8Array(data.buffer), offset);
    const tensor = lazyFloat32Tensor("w", shape, file.subarray(offset, offset + data.byteLength));
    assertEquals(oihwToHwio(tensor).data, expected);
    assertEquals(tensor.data, data);
  }
  const short = lazyFloat32Tensor("w", shape, new Uint8Array(12));
  assertThrows(() => transpose(short, [2, 3, 1, 0]), Error, "expected 765 float32 elements");
});

/** Every permutation of `[0, …, rank - 1]`. */
function permutations(rank: number): number[][] {
  if (rank === 0) return [[]];
  return permutations(rank - 1).flatMap((p) =>
    Array.from({ length: rank }, (_, at) => [...p.slice(0, at), rank - 1, ...p.slice(at)])
  );
}

Deno.test("transpose matches a naive permutation for every axis order of ranks 1 to 4", () => {
  // Odd sizes, one above the 128-element block, and a length-1 axis, so that partial blocks,
  // row groups of four with a remainder and degenerate axes all occur.
  for (const shape of [[7], [5, 131], [3, 1, 130], [6, 5, 3, 2], [131, 3, 2, 5]]) {
    const data = values(shape.reduce((a, b) => a * b, 1));
    for (const perm of permutations(shape.length)) {
      const t = transpose({ shape, data }, perm);
      assertEquals(t.shape, perm.map((p) => shape[p]), `perm [${perm}]`);
      assertEquals(t.data, naiveTranspose(data, shape, perm), `shape [${shape}], perm [${perm}]`);
    }
  }
  assertThrows(() => transpose({ shape: [2, 3], data: values(6) }, [0, 0]), Error, "does not fit");
  assertThrows(
    () => transposeInto({ shape: [2, 3], data: values(6) }, [1, 0], new Float32Array(5)),
    RangeError,
    "cannot hold 6",
  );
});

Deno.test("deferTranspose computes nothing until read, and writes into a buffer without keeping", () => {
  const shape = [9, 4, 3, 3];
  const data = values(9 * 4 * 9);
  const expected = naiveTranspose(data, shape, [2, 3, 1, 0]);
  // A file's bytes that change after the deferred weight is made: what it yields shows when
  // it read them.
  const bytes = new Uint8Array(data.byteLength);
  const deferred = deferTranspose(lazyFloat32Tensor("w", shape, bytes), [2, 3, 1, 0]);
  assertEquals(deferred.shape, [3, 3, 4, 9]);
  bytes.set(new Uint8Array(data.buffer));
  // Written into a larger buffer: only the first elements change.
  const target = new Float32Array(expected.length + 2).fill(42);
  deferred.writeInto!(target);
  assertEquals(target.subarray(0, expected.length), expected);
  assertEquals(Array.from(target.subarray(expected.length)), [42, 42]);
  assertEquals(deferred.data, expected);
  assert(deferred.data === deferred.data, "computed once, then kept");
  // Once computed, the data is what it writes: the source is no longer read (nor kept).
  bytes.fill(0);
  const again = new Float32Array(expected.length);
  deferred.writeInto!(again);
  assertEquals(again, expected);
  // Mismatched sizes are refused at once, not when the weight is first read.
  assertThrows(
    () => deferTranspose({ shape, data: values(10) }, [2, 3, 1, 0]),
    Error,
    "expected 324 float32 elements",
  );
  // The importers' layout changes are deferred.
  assert(oihwToHwio({ shape, data }).writeInto !== undefined);
  assert(linearToDense({ shape: [2, 3], data: values(6) }).writeInto !== undefined);
});
