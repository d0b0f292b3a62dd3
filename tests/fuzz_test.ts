/**
 * Regression tests for hostile input: a short seeded fuzz of every reader (300 inputs each,
 * through the harness in tests/fuzz/), and one crafted input for each crash, hang and
 * oversized allocation the full fuzz found and the readers now refuse.
 *
 * @module
 */

import { assert, assertEquals, assertRejects } from "@std/assert";
import { formatSummary, runFuzz } from "./fuzz/fuzz.ts";
import { readKeras } from "../formats/keras/read.ts";
import { loadH5wasm } from "../formats/libraries.ts";
import { readPickle } from "../formats/pickle.ts";
import { ZooFormatError } from "../arch/errors.ts";
import { decodeImage } from "../vision/decode.ts";
import { crc32 } from "./image_fixtures.ts";

const fixtures = new URL("../testdata/fixtures/", import.meta.url);

function fixture(path: string): Uint8Array {
  return Deno.readFileSync(new URL(path, fixtures));
}

/** A copy of `bytes` with the given bytes replaced. */
function patched(bytes: Uint8Array, changes: Record<number, number>): Uint8Array {
  const copy = bytes.slice();
  for (const [offset, value] of Object.entries(changes)) copy[Number(offset)] = value;
  return copy;
}

/** Runs `read`, which must throw (or reject with) a ZooFormatError for `file` within `maxMs`. */
async function assertRefusedQuickly(
  read: () => unknown,
  file: string,
  message: string,
  maxMs = 1000,
): Promise<void> {
  const start = performance.now();
  const error = await assertRejects(async () => await read(), ZooFormatError, message);
  assert(error.message.startsWith(`${file}: `), error.message);
  const ms = performance.now() - start;
  assert(ms < maxMs, `took ${ms} ms`);
}

Deno.test("fuzz: 300 inputs per reader give no crash, hang or oversized allocation", async () => {
  const summaries = await runFuzz({ seed: 1, inputs: 300, jobs: 2, budgetMs: 2000 });
  const findings = summaries.flatMap((summary) => summary.findings);
  assertEquals(findings, [], formatSummary(summaries));
  for (const summary of summaries) {
    assertEquals(summary.inputs, 300, summary.reader);
    // The unmutated seeds come first and must read.
    assert(summary.ok >= 1 && summary.rejected > 100, `${summary.reader}: ${summary.ok} ok`);
  }
  assertEquals(summaries.length, 15);
});

// ------------------------------------------------------------------------------------- HDF5

// h5wasm starts on the first HDF5 read; started here, the timed reads below time only the read.
const { module: h5Module } = await loadH5wasm();
const kerasNested = fixture("keras_models/keras2_nested.h5");
const applications = fixture("keras_reader/applications_weights.h5");

Deno.test("HDF5: a global heap object of size 0 is refused instead of looping forever", async () => {
  // The free-space object of the collection at 2048 (holding the vlen string attributes).
  const looping = patched(applications, { 2128: 0x7f, 2129: 0 });
  await assertRefusedQuickly(
    () => readKeras(looping, "gcol.h5"),
    "gcol.h5",
    "corrupt HDF5 global heap at offset 2048: object 0 at offset 2247 spans 0 bytes",
  );
});

Deno.test("HDF5: a corrupt vlen attribute no longer aborts h5wasm or breaks later reads", async () => {
  // The backend attribute's global heap address 0x800 becomes 0x1800. h5wasm freed the
  // uninitialised string pointers of the failed read: malloc aborted or its heap was corrupted.
  const error = await assertRejects(
    () => readKeras(patched(kerasNested, { 965: 0x18 }), "vlen.h5"),
    ZooFormatError,
    "vlen.h5: HDF5 read failed",
  );
  assert(!error.message.includes("Aborted"), error.message);
  assertEquals((await readKeras(kerasNested, "good.h5")).layers.length, 2);
});

Deno.test("HDF5: a corrupt chunk size cannot grow h5wasm's memory by gigabytes", async () => {
  const before = h5Module.HEAPU8.length;
  // An object header continuation of 872 MB in an 18 KB file.
  await assertRejects(
    () => readKeras(patched(kerasNested, { 14851: 52 }), "chunk.h5"),
    ZooFormatError,
    "chunk.h5: HDF5 read failed: memory allocation failed",
  );
  assert(h5Module.HEAPU8.length - before <= 64 << 20, `grew by ${h5Module.HEAPU8.length - before}`);
  assertEquals((await readKeras(kerasNested, "good.h5")).layers.length, 2);
});

Deno.test("HDF5: failed reads leak no stack, file descriptors, memory or temporary files", async () => {
  // h5wasm threw HDF5's errors through the WebAssembly frames: each leaked about 1 KB of its
  // 2 MiB stack, and most left the file open (an OS descriptor and ~300 KB of HDF5 state). After
  // ~2000 bad files every read failed ("table index is out of bounds"); after as many as the
  // descriptor limit, the whole process could open no file.
  const badFiles = [
    patched(kerasNested, { 965: 0x18 }), // vlen attribute address: "incorrect cache entry type"
    patched(applications, { 7721: 0x51, 7722: 0xfe, 7723: 0x3e, 7724: 0x51 }), // local heap
  ];
  const openFiles = () =>
    Deno.build.os === "linux" ? [...Deno.readDirSync("/proc/self/fd")].length : 0;
  const temporaryFiles = () =>
    [...Deno.readDirSync(Deno.env.get("TMPDIR") ?? "/tmp")].filter((entry) =>
      entry.name.startsWith("denozoo-keras-")
    ).length;
  await readKeras(kerasNested, "warm-up.h5");
  const before = { files: openFiles(), heap: h5Module.HEAPU8.length, temporary: temporaryFiles() };
  for (let i = 0; i < 2500; i++) {
    await assertRejects(
      () => readKeras(badFiles[i % 2], "bad.h5"),
      ZooFormatError,
      "bad.h5: HDF5 read",
    );
  }
  assertEquals(
    { files: openFiles(), heap: h5Module.HEAPU8.length, temporary: temporaryFiles() },
    before,
  );
  assertEquals((await readKeras(applications, "good.h5")).layers.length, 3);
});

Deno.test("HDF5: an attribute whose string type was corrupted is not read", async () => {
  // The backend attribute's class becomes a variable-length sequence; reading it made HDF5
  // access memory out of bounds.
  await assertRefusedQuickly(
    () => readKeras(patched(kerasNested, { 929: 0x09 }), "class.h5"),
    "class.h5",
    "attribute 'backend' of '/' is not a string",
  );
});

// ----------------------------------------------------------------------------------- pickle

/** A protocol-2 pickle of the given opcodes and a STOP. */
function pickle(...parts: (number[] | Uint8Array)[]): Uint8Array {
  const body = parts.flatMap((part) => [...part]);
  return Uint8Array.from([0x80, 2, ...body, 0x2e]);
}

Deno.test("pickle: a megabyte LONG4 decodes in linear time", () => {
  const length = 1 << 20;
  const payload = new Uint8Array(length).fill(0xff); // -1 in two's complement
  const bytes = new Uint8Array(8 + length);
  bytes.set([0x80, 2, 0x8b, 0, 0, 0x10, 0]);
  bytes.set(payload, 7);
  bytes[7 + length] = 0x2e;
  const start = performance.now();
  assertEquals(readPickle(bytes, "long.pkl").value, -1);
  assert(performance.now() - start < 2000);
});

Deno.test("pickle: APPENDS of 200,000 items does not overflow the stack", () => {
  const items = Array.from({ length: 200_000 }, () => [0x4b, 7]).flat(); // BININT1 7
  const { value } = readPickle(pickle([0x5d, 0x28], items, [0x65]), "list.pkl");
  assertEquals((value as number[]).length, 200_000);
});

Deno.test("pickle: out-of-range escapes and over-long decimal ints are refused", async () => {
  const text = (s: string) => new TextEncoder().encode(s);
  await assertRefusedQuickly(
    () => readPickle(pickle(text("V\\U00110000\n")), "u.pkl"),
    "u.pkl",
    "\\U escape beyond U+10FFFF",
  );
  await assertRefusedQuickly(
    () => readPickle(pickle(text(`I${"9".repeat(5000)}\n`)), "i.pkl"),
    "i.pkl",
    "integer of 5000 digits is too long",
  );
});

// -------------------------------------------------------------------------------------- tfjs

const tfjsModel = JSON.parse(new TextDecoder().decode(fixture("keras_reader/tfjs/model.json")));
const tfjsShards = new Map(
  ["group1-shard1of2.bin", "group1-shard2of2.bin"].map((
    name,
  ) => [name, fixture(`keras_reader/tfjs/${name}`)]),
);

function readTfjs(edit: (model: typeof tfjsModel) => void): () => Promise<unknown> {
  const model = structuredClone(tfjsModel);
  edit(model);
  const json = new TextEncoder().encode(JSON.stringify(model));
  return () => readKeras(json, "model.json", { shards: tfjsShards });
}

Deno.test("tfjs: hostile JSON values in model.json are refused with a message", async () => {
  await assertRefusedQuickly(
    readTfjs((model) => model.weightsManifest[0].weights[0].dtype = "DEEP"),
    "model.json",
    "has dtype 'DEEP'",
  );
  // A dtype nested 100,000 deep overflowed the stack when interpolated into the message.
  const marked = structuredClone(tfjsModel);
  marked.weightsManifest[0].weights[0].dtype = "DEEP";
  const deep = "[".repeat(100_000) + "]".repeat(100_000);
  const json = JSON.stringify(marked).replace('"DEEP"', deep);
  await assertRefusedQuickly(
    () => readKeras(new TextEncoder().encode(json), "model.json", { shards: tfjsShards }),
    "model.json",
    "has dtype an array",
  );
  await assertRefusedQuickly(
    readTfjs((model) => {
      model.weightsManifest[0].weights[0].quantization = { dtype: "constructor" };
    }),
    "model.json",
    "uses unsupported quantization 'constructor'",
  );
  // A shard listed twice would be copied once per listing: a million times, a terabyte.
  await assertRefusedQuickly(
    readTfjs((model) => model.weightsManifest[0].paths.push(model.weightsManifest[0].paths[0])),
    "model.json",
    "shard 'group1-shard1of2.bin' is listed twice in weightsManifest",
  );
});

// ------------------------------------------------------------------------------------ images
//
// The inputs that broke the pure-JS decoders this project had before libvips, kept: each must
// still be refused quickly, with the file's name.

const gif = fixture("images/gif_two_frames.gif"); // 7×5, frame 0's descriptor at 109

Deno.test("GIF: frames outside the screen and corrupt LZW data are refused", async () => {
  // A 65535×65535 frame made omggif allocate 4 GiB of indices; libvips grows the screen to it,
  // and the pixel limit refuses that from the header.
  await assertRefusedQuickly(
    () => decodeImage(patched(gif, { 114: 0xff, 115: 0xff, 116: 0xff, 117: 0xff }), "big.gif"),
    "big.gif",
    "GIF image is 65535×65535 = 4294836225 pixels, more than the 100000000 allowed",
  );
  // A minimum code size of 255 made omggif's code table chase loop forever.
  await assertRefusedQuickly(
    () => decodeImage(patched(gif, { 119: 0xff }), "lzw.gif"),
    "lzw.gif",
    "invalid GIF image: Input buffer has corrupt header: gifload_buffer: Invalid frame data",
  );
  // The first code after a clear may not refer to a table entry.
  const bad = patched(gif, { 121: 0xff, 122: 0xff });
  await assertRefusedQuickly(
    () => decodeImage(bad, "code.gif"),
    "code.gif",
    "invalid GIF image: corrupt or truncated data",
  );
});

Deno.test("JPEG and PNG: headers claiming more pixels than the data can hold are refused", async () => {
  const jpeg = fixture("images/exif_orientation1.jpg"); // SOF0 at 194
  await assertRefusedQuickly(
    () => decodeImage(patched(jpeg, { 199: 0xfd, 200: 0xe8, 201: 0x27, 202: 0x10 }), "big.jpg"),
    "big.jpg",
    "JPEG image is 10000×65000 = 650000000 pixels, more than the 100000000 allowed",
  );
  // 30000×1000 is within the limit and the header's CRC is right, but 178 bytes cannot hold
  // those pixels: refused from the header, as a decompression bomb.
  const png = fixture("images/png_rgb8.png");
  const claims = patched(png, { 18: 0x75, 19: 0x30, 22: 0x03, 23: 0xe8 });
  new DataView(claims.buffer).setUint32(29, crc32(claims.subarray(12, 29)));
  await assertRefusedQuickly(
    () => decodeImage(claims, "big.png"),
    "big.png",
    "PNG header claims 30000×1000 pixels, more than 16384 per byte of its 178-byte file",
  );
});

Deno.test("libvips: a CIELab TIFF that overflowed sharp's stack decodes; an empty 83-MP GIF screen is refused", async () => {
  const found = (name: string) => fixture(`../fuzz/found/${name}`);
  const lab = await decodeImage(found("lab_tiff_stack_overflow.tif"), "lab.tif");
  assertEquals([lab.width, lab.height, lab.data.length], [7, 5, 105]);
  await assertRefusedQuickly(
    () => decodeImage(found("gif_screen_bomb.gif"), "bomb.gif"),
    "bomb.gif",
    "GIF header claims 41316×2005 pixels, more than 16384 per byte of its 313-byte file",
  );
});
