import { assertEquals, assertRejects, assertThrows } from "@std/assert";
import { npyHeader, openNpy, readNpy, writeNpy } from "./npy.ts";
import { ZooFormatError } from "../arch/errors.ts";

const FIXTURES = "testdata/fixtures/onnx_reader";

function readFixture(name: string) {
  const file = `${FIXTURES}/${name}`;
  return readNpy(Deno.readFileSync(file), file);
}

Deno.test("readNpy reads files written by numpy", () => {
  const cases: [string, string, number[], (number | bigint)[]][] = [
    ["f4_2x3.npy", "float32", [2, 3], [0.5, -1, 2.25, 3, Math.fround(1e-8), -0]],
    ["f4_vector.npy", "float32", [5], [-2.5, -1.5, -0.5, 0.5, 1.5]],
    ["f4_scalar.npy", "float32", [], [7.75]],
    ["f8.npy", "float32", [1, 2], [Math.fround(0.1), -2.5]],
    ["i8.npy", "int64", [2], [2n ** 40n + 1n, -3n]],
    ["i4.npy", "int32", [2, 1], [-2147483648, 2147483647]],
    ["u1.npy", "uint8", [3], [0, 17, 255]],
    ["f4_v2.npy", "float32", [2], [1.5, -1.5]],
    ["f4_v3.npy", "float32", [2, 1], [4, -8]],
  ];
  for (const [name, dtype, shape, values] of cases) {
    const tensor = readFixture(name);
    assertEquals(tensor.name, name.slice(0, -".npy".length));
    assertEquals(tensor.dtype, dtype, name);
    assertEquals(tensor.shape, shape, name);
    assertEquals(Array.from(tensor.data as ArrayLike<number | bigint>), values, name);
  }
});

Deno.test("writeNpy writes byte for byte what numpy.save wrote", () => {
  for (const name of ["f4_2x3.npy", "f4_vector.npy", "f4_scalar.npy"]) {
    const bytes = Deno.readFileSync(`${FIXTURES}/${name}`);
    const { shape, data } = readNpy(bytes, name);
    assertEquals(writeNpy(shape, data as Float32Array), bytes, name);
  }
});

Deno.test("writeNpy round-trips and aligns the data to 64 bytes", () => {
  for (const shape of [[], [0], [7], [2, 3, 4], [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3]]) {
    const count = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(count).map((_, i) => i * 0.5 - 3);
    const bytes = writeNpy(shape, data);
    const headerLength = new DataView(bytes.buffer).getUint16(8, true);
    assertEquals((10 + headerLength) % 64, 0);
    assertEquals(bytes[10 + headerLength - 1], 0x0a); // "\n"
    const tensor = readNpy(bytes, "dir/sub/x.npy");
    assertEquals(tensor, { name: "x", shape, dtype: "float32", data });
  }
});

Deno.test("writeNpy writes only the view's own elements", () => {
  const view = new Float32Array([9, 1, 2, 9]).subarray(1, 3);
  assertEquals(readNpy(writeNpy([2], view), "v.npy").data, new Float32Array([1, 2]));
});

Deno.test("readNpy rejects unsupported and malformed files", () => {
  const good = writeNpy([2], new Float32Array([1, 2]));
  const withVersion = good.slice();
  withVersion[6] = 4;
  const cases: [string, Uint8Array, string][] = [
    [
      "fortran.npy",
      Deno.readFileSync(`${FIXTURES}/fortran.npy`),
      "fortran.npy: fortran_order True is not supported",
    ],
    [
      "big_endian.npy",
      Deno.readFileSync(`${FIXTURES}/big_endian.npy`),
      "big_endian.npy: unsupported dtype '>f4' (supported: <f4, <f8, <i8, <i4, |u1)",
    ],
    ["text.npy", new TextEncoder().encode("hello, world"), "text.npy: not a .npy file"],
    ["v4.npy", withVersion, "v4.npy: unsupported .npy version 4.0"],
    ["short.npy", good.subarray(0, good.length - 1), "short.npy: data has 7 bytes, expected 8"],
    ["cut.npy", good.subarray(0, 40), "cut.npy: header length 118 exceeds the 30 bytes after it"],
  ];
  for (const [file, bytes, message] of cases) {
    assertThrows(() => readNpy(bytes, file), ZooFormatError, message);
  }
});

Deno.test("writeNpy rejects a shape that does not match the data", () => {
  assertThrows(
    () => writeNpy([2, 2], new Float32Array(3)),
    RangeError,
    "writeNpy: shape [2,2] holds 4 elements, data has 3",
  );
  assertThrows(() => writeNpy([-1], new Float32Array(0)), RangeError, "is not a list of counts");
});

Deno.test("openNpy reads rows on demand, as readNpy reads them whole", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const name of ["f4_2x3.npy", "f8.npy", "i4.npy", "f4_v2.npy", "f4_v3.npy"]) {
      const whole = readFixture(name);
      using rows = await openNpy(`${FIXTURES}/${name}`);
      assertEquals([rows.shape, rows.dtype], [whole.shape, whole.dtype], name);
      const width = whole.data.length / whole.shape[0];
      const last = await rows.readRows(whole.shape[0] - 1, 5); // clamped to the end
      assertEquals(last, whole.data.slice(-width), name);
      assertEquals(await rows.readRows(0, whole.shape[0]), whole.data, name);
    }
    // A header and rows written piece by piece are the file writeNpy writes.
    const data = Float32Array.from({ length: 30 }, (_, i) => i / 3);
    const bytes = writeNpy([5, 3, 2], data);
    assertEquals(npyHeader([5, 3, 2]), bytes.subarray(0, 128));
    const path = `${dir}/x.npy`;
    await Deno.writeFile(path, bytes);
    using rows = await openNpy(path);
    assertEquals(await rows.readRows(2, 2), data.slice(12, 24));
    await Deno.writeFile(`${dir}/cut.npy`, bytes.subarray(0, bytes.length - 4));
    await assertRejects(
      () => openNpy(`${dir}/cut.npy`),
      ZooFormatError,
      "cut.npy: data has 116 bytes, expected 120 for '<f4' [5,3,2]",
    );
    await Deno.writeFile(`${dir}/scalar.npy`, writeNpy([], new Float32Array([1])));
    await assertRejects(() => openNpy(`${dir}/scalar.npy`), ZooFormatError, "holds a scalar");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
