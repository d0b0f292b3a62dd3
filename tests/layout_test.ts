import { assertEquals, assertThrows } from "@std/assert";
import { hwioToOihw, linearToDense, oihwToHwio, transpose } from "../convert/layout.ts";
import { lazyFloat32Tensor } from "../convert/safetensors.ts";

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
