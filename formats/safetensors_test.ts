import { assert, assertEquals, assertThrows } from "@std/assert";
import { readSafetensors, writeSafetensors } from "./safetensors.ts";
import { bfloat16BitsToFloat32, float16BitsToFloat32 } from "./float16.ts";
import type { NamedTensor } from "./tensor.ts";
import { ZooFormatError } from "../arch/errors.ts";

const FIXTURES = "testdata/fixtures/onnx_reader";

/** Builds a file from a header object and data bytes, for the malformed cases. */
function safetensorsFile(header: unknown, data: Uint8Array, headerLength?: bigint): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, headerLength ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

Deno.test("readSafetensors reads a file written in Python, in header order", () => {
  const file = `${FIXTURES}/mixed.safetensors`;
  const { tensors, metadata } = readSafetensors(Deno.readFileSync(file), file);
  assertEquals(metadata, { format: "pt", source: "generate.py" });
  const summary = tensors.map((
    t,
  ) => [t.name, t.dtype, t.shape, Array.from(t.data as ArrayLike<number | bigint>)]);
  assertEquals(summary, [
    ["z.weight", "float32", [2, 2], [1.5, -2, 0, 3.25]],
    ["a.half", "float32", [3], [1, -0.5, 65504]],
    ["m.bf16", "float32", [2], [-1, 0.15625]],
    ["d.double", "float32", [2], [Math.fround(0.1), -4]],
    ["steps", "int64", [], [2n ** 40n + 3n]],
    ["idx", "int32", [3], [-1, 0, 7]],
    ["small", "int32", [2], [-7, 100]],
    ["pixels", "uint8", [1, 3], [0, 128, 255]],
    ["mask", "bool", [2], [1, 0]],
    ["empty", "float32", [0, 4], []],
  ]);
  assertEquals(tensors[4].data.constructor, BigInt64Array);
});

Deno.test("writeSafetensors writes byte for byte what the Python writer wrote", () => {
  const file = `${FIXTURES}/writer_parity.safetensors`;
  const bytes = Deno.readFileSync(file);
  const { tensors, metadata } = readSafetensors(bytes, file);
  assertEquals(tensors.map((t) => t.dtype), ["float32", "int64", "int32", "uint8"]);
  assertEquals(writeSafetensors(tensors, metadata), bytes);
});

Deno.test("writeSafetensors round-trips every element type, aligned and space-padded", () => {
  const tensors: NamedTensor[] = [
    {
      name: "conv.weight",
      shape: [2, 1, 1, 3],
      dtype: "float32",
      data: new Float32Array([1, -2, 0.5, 3, 1e-30, -0]),
    },
    {
      name: "bn.num_batches_tracked",
      shape: [],
      dtype: "int64",
      data: new BigInt64Array([-(2n ** 63n)]),
    },
    { name: "labels", shape: [3], dtype: "int32", data: new Int32Array([2 ** 31 - 1, 0, -5]) },
    { name: "image", shape: [1, 1, 1], dtype: "uint8", data: new Uint8Array([200]) },
    { name: "mask", shape: [2], dtype: "bool", data: new Uint8Array([0, 1]) },
    { name: "nothing", shape: [0], dtype: "float32", data: new Float32Array(0) },
    // A view at an offset: only its own bytes are written.
    {
      name: "__proto__",
      shape: [2],
      dtype: "float32",
      data: new Float32Array([9, 7, 8]).subarray(1),
    },
  ];
  const bytes = writeSafetensors(tensors, { note: "round trip ✓" });
  const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assertEquals(headerLength % 8, 0);
  const header = new TextDecoder().decode(bytes.subarray(8, 8 + headerLength));
  assert(/^\{.*\} *$/s.test(header), header);
  const { tensors: back, metadata } = readSafetensors(bytes, "roundtrip.safetensors");
  assertEquals(metadata, { note: "round trip ✓" });
  // float32 tensors also carry their bytes in the file (`littleEndian`); compare the elements.
  const plain = ({ name, shape, dtype, data }: NamedTensor) => ({ name, shape, dtype, data });
  assertEquals(back.map(plain), tensors.map((t) => ({ ...t, data: t.data.slice() })));
  const conv = back[0];
  assertEquals(
    conv.littleEndian,
    new Uint8Array(new Float32Array([1, -2, 0.5, 3, 1e-30, -0]).buffer),
  );
});

Deno.test("readSafetensors copies data that sits at an unaligned offset", () => {
  const bytes = writeSafetensors([
    { name: "a", shape: [1], dtype: "uint8", data: new Uint8Array([1]) },
    { name: "b", shape: [2], dtype: "float32", data: new Float32Array([0.25, -8]) },
  ]);
  const padded = new Uint8Array(bytes.length + 3);
  padded.set(bytes, 3);
  const { tensors } = readSafetensors(padded.subarray(3), "shifted.safetensors");
  assertEquals(tensors[1].data, new Float32Array([0.25, -8]));
});

Deno.test("readSafetensors rejects malformed headers with the file and reason", () => {
  const f32 = (begin: number, end: number, shape = [2]) => ({
    dtype: "F32",
    shape,
    data_offsets: [begin, end],
  });
  const cases: [Uint8Array, string][] = [
    [new Uint8Array(5), "bad.safetensors: file has 5 bytes, too short for a header length"],
    [
      safetensorsFile({ a: f32(0, 8) }, new Uint8Array(8), 2n ** 60n),
      `bad.safetensors: header length ${2n ** 60n} exceeds the`,
    ],
    [
      safetensorsFile({ a: f32(0, 8) }, new Uint8Array(8), 1000n),
      "bad.safetensors: header length 1000 exceeds the",
    ],
    [
      safetensorsFile("x", new Uint8Array(0), 2n),
      "bad.safetensors: header is not valid UTF-8 JSON",
    ],
    [safetensorsFile([1], new Uint8Array(0)), "bad.safetensors: header is not a JSON object"],
    [
      safetensorsFile({ a: f32(0, 8), b: f32(4, 12) }, new Uint8Array(12)),
      "bad.safetensors: tensor 'b' [4, 12) overlaps tensor 'a' [0, 8)",
    ],
    [
      safetensorsFile({ a: f32(0, 8), b: f32(12, 20) }, new Uint8Array(20)),
      "bad.safetensors: tensor 'b' begins at 12, leaving a gap after tensor 'a' [0, 8)",
    ],
    [
      safetensorsFile({ a: f32(0, 12) }, new Uint8Array(12)),
      "bad.safetensors: tensor 'a' (F32 [2]) spans 12 bytes [0, 12), expected 8",
    ],
    [
      safetensorsFile({ a: f32(0, 8) }, new Uint8Array(4)),
      "bad.safetensors: tensors cover 8 data bytes but the file holds 4",
    ],
    [
      safetensorsFile({ a: f32(0, 8) }, new Uint8Array(9)),
      "bad.safetensors: tensors cover 8 data bytes but the file holds 9",
    ],
    [
      safetensorsFile(
        { a: { dtype: "F8_E4M3", shape: [1], data_offsets: [0, 1] } },
        new Uint8Array(1),
      ),
      "bad.safetensors: tensor 'a' has unsupported dtype 'F8_E4M3'",
    ],
    [
      safetensorsFile({ a: f32(0, 8, [-2]) }, new Uint8Array(8)),
      "bad.safetensors: tensor 'a' shape [-2] is not a list of counts",
    ],
    [
      safetensorsFile({ a: { dtype: "F32", shape: [2], data_offsets: [0] } }, new Uint8Array(8)),
      "bad.safetensors: tensor 'a' data_offsets [0] is not [begin, end]",
    ],
    [
      safetensorsFile({ __metadata__: { epochs: 3 } }, new Uint8Array(0)),
      "bad.safetensors: __metadata__ value of 'epochs' is not a string",
    ],
  ];
  for (const [bytes, message] of cases) {
    assertThrows(() => readSafetensors(bytes, "bad.safetensors"), ZooFormatError, message);
  }
});

Deno.test("writeSafetensors rejects data that does not match the shape, and repeated names", () => {
  const tensor: NamedTensor = {
    name: "w",
    shape: [3],
    dtype: "float32",
    data: new Float32Array(2),
  };
  assertThrows(
    () => writeSafetensors([tensor]),
    RangeError,
    "writeSafetensors: tensor 'w' (float32 [3]) has 2 elements of 4 bytes, expected 3 of 4",
  );
  const ok: NamedTensor = { ...tensor, shape: [2] };
  assertThrows(() => writeSafetensors([ok, ok]), RangeError, "tensor name 'w' is used twice");
});

Deno.test("half-precision decoders are exact over all 65536 bit patterns", () => {
  const bits = new Uint16Array(65536).map((_, i) => i);
  const halves = float16BitsToFloat32(bits);
  // Reference: decode each half by the IEEE formula, independently written.
  for (let i = 0; i < 65536; i++) {
    const sign = i >> 15 ? -1 : 1;
    const e = (i >> 10) & 31;
    const m = i & 1023;
    const want = e === 31
      ? (m ? NaN : sign * Infinity)
      : e === 0
      ? sign * (m / 1024) * 2 ** -14
      : sign * (1 + m / 1024) * 2 ** (e - 15);
    if (!Object.is(halves[i], Math.fround(want))) {
      throw new Error(`half 0x${i.toString(16)}: got ${halves[i]}, want ${want}`);
    }
  }
  const brains = bfloat16BitsToFloat32(new Uint16Array([0x3f80, 0xc060, 0x7f80, 0x0001]));
  assertEquals(Array.from(brains), [1, -3.5, Infinity, 2 ** -133]);
});
