import { assertEquals, assertRejects } from "@std/assert";
import { createHash } from "node:crypto";
import { hashBytes, hashFile, hashInWorker } from "./hash.ts";
import { readSource } from "./source.ts";

const model = new URL("../models/cifar_resnet20.safetensors", import.meta.url).pathname;
const bytes = await Deno.readFile(model);
const sha256 = createHash("sha256").update(bytes).digest("hex");

Deno.test("a file's digest is the same streamed from disk, from its bytes and from a worker", async () => {
  assertEquals(await hashFile(model, "sha256"), sha256);
  assertEquals(await hashFile(model, "md5"), createHash("md5").update(bytes).digest("hex"));
  assertEquals(hashBytes(bytes, "sha256"), sha256);
  const shared = new Uint8Array(new SharedArrayBuffer(bytes.length));
  const hasher = hashInWorker(shared, "sha256");
  shared.set(bytes);
  hasher.ready(bytes.length);
  assertEquals(await hasher.digest(shared), sha256);
});

Deno.test("hashInWorker hashes a shared buffer as it fills, in uneven steps", async () => {
  const data = Uint8Array.from({ length: 11_000_000 }, (_, i) => (i * 31 + (i >> 13)) & 255);
  const shared = new Uint8Array(new SharedArrayBuffer(data.length));
  const hasher = hashInWorker(shared, "md5");
  for (let at = 0, step = 1; at < data.length; at += step, step = step * 7 + 3) {
    const end = Math.min(data.length, at + step);
    shared.set(data.subarray(at, end), at);
    hasher.ready(end);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  assertEquals(await hasher.digest(shared), createHash("md5").update(data).digest("hex"));
  // Bytes other than the ones it watched (a file that outgrew its buffer) are hashed here.
  const other = hashInWorker(new Uint8Array(new SharedArrayBuffer(8)), "sha256");
  assertEquals(await other.digest(bytes), sha256);
  // A buffer no worker can share is hashed here as well.
  assertEquals(await hashInWorker(bytes, "sha256").digest(bytes), sha256);
});

Deno.test("readSource returns the file's bytes and their SHA-256, or the read's error", async () => {
  const source = await readSource(model);
  assertEquals(source.bytes, new Uint8Array(bytes));
  assertEquals(await source.sha256, sha256);
  await assertRejects(() => readSource(`${model}.missing`), Deno.errors.NotFound);
});

Deno.test("readSource hashes a file that grows while it is read (here: /proc) by its bytes", async () => {
  if (Deno.build.os !== "linux") return;
  const source = await readSource("/proc/self/status");
  assertEquals(await source.sha256, createHash("sha256").update(source.bytes).digest("hex"));
});

Deno.test("without read access to the worker's module, the hash runs here, quietly", async () => {
  const file = await Deno.makeTempFile({ suffix: ".ts" });
  try {
    await Deno.writeTextFile(
      file,
      `import { readSource } from ${JSON.stringify(new URL("./source.ts", import.meta.url).href)};
       console.log(await (await readSource(${JSON.stringify(model)})).sha256);`,
    );
    const narrow = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--no-prompt",
        `--config=${new URL("../deno.json", import.meta.url).pathname}`,
        `--allow-read=${model},${file}`,
        file,
      ],
      stdout: "piped",
      stderr: "piped",
    });
    const { code, stdout, stderr } = await narrow.output();
    const text = new TextDecoder();
    assertEquals(code, 0, text.decode(stderr));
    assertEquals(text.decode(stdout).trim(), sha256);
    assertEquals(text.decode(stderr), "");
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("hashBytes hashes the shared bytes readSource returns", async () => {
  const source = await readSource(model);
  assertEquals(hashBytes(source.bytes, "sha256"), sha256);
  assertEquals(hashBytes(source.bytes, "md5"), createHash("md5").update(bytes).digest("hex"));
});
