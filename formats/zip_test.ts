/**
 * Tests of the defensive zip reader on archives written by Python's zipfile
 * (testdata/fixtures/zips/generate.py): ZIP64 and data-descriptor archives are read, and path
 * traversal, absolute paths, duplicates, unsupported methods, size lies and zip bombs are refused
 * with the file and entry named, also through the PyTorch and Keras readers.
 *
 * @module
 */

import { assertEquals, assertRejects, assertThrows } from "@std/assert";
import { zipSync } from "fflate";
import { readZip } from "./zip.ts";
import { readPytorch } from "./pytorch.ts";
import { readKeras } from "./keras/read.ts";
import { ZooFormatError } from "../arch/errors.ts";

const zipDir = new URL("../testdata/fixtures/zips/", import.meta.url);
const pthDir = new URL("../testdata/fixtures/pth/", import.meta.url);
const kerasDir = new URL("../testdata/fixtures/keras_reader/", import.meta.url);

/** What generate.py stores in its well-formed entries. */
const HELLO = "hello, zip\n".repeat(20);

function text(bytes: Uint8Array | undefined): string | undefined {
  return bytes && new TextDecoder().decode(bytes);
}

async function refuse(name: string, message: string): Promise<void> {
  const bytes = await Deno.readFile(new URL(name, zipDir));
  assertThrows(() => readZip(bytes, name), ZooFormatError, `${name}: ${message}`);
}

Deno.test("readZip: ZIP64 records and extra fields", async () => {
  const entries = readZip(await Deno.readFile(new URL("zip64.zip", zipDir)), "zip64.zip");
  assertEquals([...entries.keys()], ["a/stored.bin", "a/deflated.txt"]);
  assertEquals(text(entries.get("a/stored.bin")), HELLO);
  assertEquals(text(entries.get("a/deflated.txt")), HELLO);
});

Deno.test("readZip: sizes in data descriptors come from the central directory", async () => {
  const bytes = await Deno.readFile(new URL("data_descriptor.zip", zipDir));
  assertEquals(text(readZip(bytes, "dd.zip").get("streamed.txt")), HELLO);
});

Deno.test("readZip: only selects entries but sees every name; stored entries are views", () => {
  const archive = zipSync({
    "dir/": {},
    "dir/a.bin": [new Uint8Array([1, 2, 3]), { level: 0 }],
    "dir/b.txt": [new TextEncoder().encode("b".repeat(1000)), { level: 9 }],
  });
  const seen: string[] = [];
  const entries = readZip(archive, "x.zip", {
    only: (name) => {
      seen.push(name);
      return name.endsWith(".txt");
    },
  });
  assertEquals(seen, ["dir/a.bin", "dir/b.txt"]);
  assertEquals([...entries.keys()], ["dir/b.txt"]);
  assertEquals(text(entries.get("dir/b.txt")), "b".repeat(1000));
  const stored = readZip(archive, "x.zip").get("dir/a.bin")!;
  assertEquals([...stored], [1, 2, 3]);
  assertEquals(stored.buffer, archive.buffer);
});

Deno.test("readZip: hostile names are refused", async () => {
  await refuse("traversal.zip", "zip entry '../evil.txt' climbs out of the archive with '..'");
  await refuse(
    "traversal_backslash.zip",
    "zip entry 'a\\..\\..\\evil.txt' climbs out of the archive with '..'",
  );
  await refuse("absolute.zip", "zip entry '/etc/evil.txt' has an absolute path");
  await refuse("drive.zip", "zip entry 'C:\\evil.txt' has an absolute path");
  await refuse("duplicate.zip", "zip entry 'a.txt' appears twice");
});

Deno.test("readZip: unsupported methods and declared sizes that lie are refused", async () => {
  await refuse(
    "bzip2.zip",
    "zip entry 'a.txt' uses compression method 12; only stored (0) and deflate (8) are supported",
  );
  await refuse("size_short.zip", "zip entry 'a.txt' declares 219 bytes but inflates to more");
  await refuse("size_long.zip", "zip entry 'a.txt' declares 221 bytes but inflates to 220");

  // A stored entry's two sizes must agree; patch the central directory's uncompressed size.
  const archive = zipSync({ "a.bin": [new Uint8Array(10), { level: 0 }] });
  const view = new DataView(archive.buffer);
  const central = archive.length - 22 - (46 + "a.bin".length);
  assertEquals(view.getUint32(central, true), 0x02014b50);
  view.setUint32(central + 24, 11, true);
  assertThrows(
    () => readZip(archive, "stored.zip"),
    ZooFormatError,
    "stored.zip: zip entry 'a.bin' is stored but declares 11 bytes with 10 in the archive",
  );
});

Deno.test("readZip: zip bombs are refused before inflating", async () => {
  const bomb = await Deno.readFile(new URL("bomb.zip", zipDir));
  assertThrows(
    () => readZip(bomb, "bomb.zip"),
    ZooFormatError,
    `bomb.zip: zip entries would inflate to 4194304 bytes, more than the limit of ${
      64 * bomb.length
    } (64 × the archive size): a zip bomb?`,
  );
  // With an explicit budget the same archive is fine: 4 MiB of zeros.
  const zeros = readZip(bomb, "bomb.zip", { maxTotalBytes: 8 * 1024 * 1024 }).get(
    "model.weights.h5",
  )!;
  assertEquals(zeros.length, 4 * 1024 * 1024);
  assertEquals(zeros.every((byte) => byte === 0), true);
  assertThrows(
    () => readZip(bomb, "bomb.zip", { maxTotalBytes: 4 * 1024 * 1024 - 1 }),
    ZooFormatError,
    "(maxTotalBytes): a zip bomb?",
  );
  // Declaring a small size does not help: inflation stops at the declared 100 bytes.
  await refuse(
    "bomb_lying.zip",
    "zip entry 'model.weights.h5' declares 100 bytes but inflates to more",
  );

  // A declared size beyond deflate's 1032:1 ratio is refused whatever the budget.
  const patched = bomb.slice();
  const view = new DataView(patched.buffer);
  const central = patched.length - 22 - (46 + "model.weights.h5".length);
  view.setUint32(central + 24, 0x7fffffff, true);
  assertThrows(
    () => readZip(patched, "ratio.zip", { maxTotalBytes: 2 ** 40 }),
    ZooFormatError,
    "ratio.zip: zip entry 'model.weights.h5' declares 2147483647 bytes, more than deflate can produce",
  );
});

Deno.test("readZip: counts and sizes in the end records are checked against the archive", async () => {
  const zip64 = await Deno.readFile(new URL("zip64.zip", zipDir));
  const view = new DataView(zip64.buffer);
  const recordAt = Number(view.getBigUint64(zip64.length - 22 - 20 + 8, true));
  assertEquals(view.getUint32(recordAt, true), 0x06064b50);
  // fflate's unzipSync walks 16.7 million garbage records of this 634-byte archive (~9 s).
  const manyEntries = zip64.slice();
  new DataView(manyEntries.buffer).setBigUint64(recordAt + 32, 16_711_697n, true);
  const start = performance.now();
  assertThrows(
    () => readZip(manyEntries, "count.zip"),
    ZooFormatError,
    "count.zip: zip archive's ZIP64 entry count 16711697 exceeds the archive's 634 bytes",
  );
  assertEquals(performance.now() - start < 100, true);
  const fewBytes = zip64.slice();
  new DataView(fewBytes.buffer).setBigUint64(recordAt + 32, 600n, true);
  assertThrows(
    () => readZip(fewBytes, "count.zip"),
    ZooFormatError,
    "count.zip: zip central directory of 174 bytes cannot hold the 600 entries it declares",
  );
});

Deno.test("readZip: truncated and non-zip input", async () => {
  const zip64 = await Deno.readFile(new URL("zip64.zip", zipDir));
  assertThrows(
    () => readZip(zip64.subarray(0, zip64.length - 10), "cut.zip"),
    ZooFormatError,
    "cut.zip: zip archive has no end-of-central-directory record (truncated?)",
  );
  assertThrows(
    () => readZip(new Uint8Array(0), "empty.zip"),
    ZooFormatError,
    "empty.zip: zip archive has no end-of-central-directory record",
  );
});

Deno.test("readPytorch and readKeras refuse hostile archives", async () => {
  const pth = zipSync({
    "tiny/data.pkl": new Uint8Array([0x80, 2, 0x7d, 0x2e]),
    "../../etc/cron.d/evil": new Uint8Array(1),
  });
  assertThrows(
    () => readPytorch(pth, "evil.pth"),
    ZooFormatError,
    "evil.pth: zip entry '../../etc/cron.d/evil' climbs out of the archive with '..'",
  );
  const bomb = await Deno.readFile(new URL("bomb.zip", zipDir));
  const header = new Uint8Array([0x50, 0x4b, 0x03, 0x04]);
  assertEquals(bomb.subarray(0, 4), header);
  await assertRejects(
    () => readKeras(bomb, "bomb.keras"),
    ZooFormatError,
    "bomb.keras: zip entries",
  );

  // The real fixtures still read through the new reader.
  const tiny = await Deno.readFile(new URL("tiny_zip.pth", pthDir));
  assertEquals(readPytorch(tiny, "tiny_zip.pth").format, "zip");
  const keras = await Deno.readFile(new URL("tiny_functional.keras", kerasDir));
  assertEquals((await readKeras(keras, "tiny_functional.keras")).format, "keras3");
});
