import { assertEquals } from "@std/assert";
import {
  float16BitsToFloat32,
  float16ToFloat32,
  float32ToFloat16,
  float32ToFloat16Bits,
} from "./float16.ts";
import { readNpy } from "./npy.ts";

const fixtures = new URL("../testdata/fixtures/float16/", import.meta.url);

Deno.test("float16 encoding round-trips every half-precision value", () => {
  for (let bits = 0; bits < 0x10000; bits++) {
    const value = float16ToFloat32(bits);
    if (Number.isNaN(value)) {
      assertEquals(Number.isNaN(float16ToFloat32(float32ToFloat16(value))), true);
    } else assertEquals(float32ToFloat16(value), bits, `0x${bits.toString(16)}`);
  }
});

Deno.test("float16 encoding rounds as numpy does: nearest, ties to even, overflow, underflow", async () => {
  const read = async (name: string) => readNpy(await Deno.readFile(new URL(name, fixtures)), name);
  const values = (await read("values.npy")).data as Float32Array;
  const expected = Uint16Array.from((await read("bits.npy")).data as Int32Array);
  assertEquals(float32ToFloat16Bits(values), expected);
  // Spelled out: 1 + 2^-11 lies halfway between 1 and 1 + 2^-10, and goes to the even one.
  assertEquals(float32ToFloat16(1 + 2 ** -11), 0x3c00);
  assertEquals(float32ToFloat16(1 + 3 * 2 ** -11), 0x3c02);
  assertEquals([float32ToFloat16(65504), float32ToFloat16(65520)], [0x7bff, 0x7c00]);
  assertEquals([float32ToFloat16(2 ** -24), float32ToFloat16(2 ** -26)], [0x0001, 0x0000]);
  assertEquals(
    float16BitsToFloat32(float32ToFloat16Bits(new Float32Array([-0, Infinity]))),
    new Float32Array([-0, Infinity]),
  );
});
