import { assertEquals, assertRejects } from "@std/assert";
import {
  type DeferredChunk,
  type FileChunk,
  joinChunks,
  readWholeFile,
  writeAtomically,
} from "./files.ts";

const here = (path: string) => new URL(path, import.meta.url);

Deno.test("readWholeFile returns exactly the file's bytes, by path or URL, empty or not", async () => {
  const model = here("../models/cifar_resnet20.safetensors");
  const expected = await Deno.readFile(model);
  assertEquals(await readWholeFile(model), expected);
  assertEquals(await readWholeFile(model.pathname), expected);
  const empty = await Deno.makeTempFile();
  try {
    assertEquals((await readWholeFile(empty)).length, 0);
  } finally {
    await Deno.remove(empty);
  }
  await assertRejects(() => readWholeFile(here("../tests/no_such_file.bin")), Deno.errors.NotFound);
});

Deno.test("readWholeFile reads past the size it was opened with (/proc files report 0)", async () => {
  // /proc/self/status reports a size of 0 but has content: the growth path must read it.
  if (Deno.build.os !== "linux") return;
  const text = new TextDecoder().decode(await readWholeFile("/proc/self/status"));
  assertEquals(text.startsWith("Name:"), true);
  assertEquals(text.includes("VmRSS:"), true);
});

Deno.test("writeAtomically writes mixed, deferred and gathered chunks in order and counts them", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // Small chunks (gathered into one write), large ones (written as they are), and deferred
    // ones (produced into the writer's buffers while the previous write runs), interleaved.
    const bytes = (n: number, seed: number) =>
      Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) & 255);
    const deferred = (n: number, seed: number): DeferredChunk => ({
      length: n,
      writeInto: (target) => target.set(bytes(n, seed)),
    });
    const chunks: FileChunk[] = [
      bytes(5, 1),
      deferred(300_000, 2),
      bytes(1024, 3),
      bytes(1024, 4),
      deferred(2_000_000, 5),
      bytes(600_000, 6),
      bytes(3, 7),
      deferred(40, 8),
      ...Array.from({ length: 1500 }, (_, i) => bytes(1000, i)),
      deferred(1_500_000, 9),
    ];
    const path = `${dir}/out.bin`;
    const written = await writeAtomically(path, chunks);
    const expected = joinChunks(chunks);
    assertEquals(written, expected.length);
    assertEquals(await Deno.readFile(path), expected);
    // Rewriting replaces the file whole; nothing is left beside it.
    assertEquals(await writeAtomically(path, bytes(10, 0)), 10);
    assertEquals(await Deno.readFile(path), bytes(10, 0));
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), ["out.bin"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeAtomically leaves the old file when producing a chunk fails", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/model.safetensors`;
    await Deno.writeFile(path, new Uint8Array([1, 2, 3]));
    const failing: DeferredChunk = {
      length: 8,
      writeInto: () => {
        throw new Error("tensor 'conv1/kernel' cannot be produced");
      },
    };
    await assertRejects(
      () => writeAtomically(path, [new Uint8Array(2_000_000), failing]),
      Error,
      "conv1/kernel",
    );
    assertEquals(await Deno.readFile(path), new Uint8Array([1, 2, 3]));
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), ["model.safetensors"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeAtomically writes chunks from an async iterable as they come", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/streamed.bin`;
    const asked: number[] = [];
    const pieces = async function* () {
      for (let i = 0; i < 3; i++) {
        asked.push(i);
        yield new Uint8Array([i, i + 10]);
      }
    };
    assertEquals(await writeAtomically(path, pieces()), 6);
    assertEquals(await Deno.readFile(path), new Uint8Array([0, 10, 1, 11, 2, 12]));
    assertEquals(asked, [0, 1, 2]);
    // A source that fails leaves nothing under the name, and no temporary file.
    const failing = async function* () {
      yield new Uint8Array([1]);
      throw new Error("batch 2 failed");
    };
    const error = await assertRejects(() => writeAtomically(`${dir}/failed.bin`, failing()));
    // The source's error is not the file's: its message is left without the path.
    assertEquals((error as Error).message, "batch 2 failed");
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), ["streamed.bin"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
