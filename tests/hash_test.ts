import { assertEquals, assertRejects } from "@std/assert";
import { createHash } from "node:crypto";
import { HASH_PIECE_BYTES, hashFile, hashInWorker } from "../zoo/hash.ts";
import { digest, readSource } from "../zoo/load.ts";

const model = new URL("../models/cifar_resnet20.safetensors", import.meta.url).pathname;
const bytes = await Deno.readFile(model);
const sha256 = createHash("sha256").update(bytes).digest("hex");

Deno.test("a file's digest is the same streamed from disk, from its bytes and from a worker", async () => {
  assertEquals(await hashFile(model, "sha256"), sha256);
  assertEquals(await hashFile(model, "md5"), createHash("md5").update(bytes).digest("hex"));
  assertEquals(await digest("SHA-256", bytes), sha256);
  const hasher = hashInWorker("sha256");
  await hasher.update(bytes);
  assertEquals(await hasher.digest(), sha256);
});

Deno.test("hashInWorker hashes many pieces of any size, more than its ring holds, in order", async () => {
  // 11 MB in uneven pieces, some larger than one slot of the ring (split), some empty.
  const data = Uint8Array.from({ length: 11_000_000 }, (_, i) => (i * 31 + (i >> 13)) & 255);
  const sizes = [0, 1, HASH_PIECE_BYTES, 3 * HASH_PIECE_BYTES + 5, 777, 0, 4096];
  const hasher = hashInWorker("md5");
  let at = 0;
  for (let k = 0; at < data.length; k++) {
    const size = sizes[k % sizes.length];
    await hasher.update(data.subarray(at, at + size));
    at += size;
  }
  assertEquals(await hasher.digest(), createHash("md5").update(data).digest("hex"));
  // Nothing handed over: the digest of no bytes.
  assertEquals(
    await hashInWorker("sha256").digest(),
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  );
});

Deno.test("readSource returns the file's bytes and their SHA-256, or the read's error", async () => {
  const source = await readSource(model);
  assertEquals(source.bytes, bytes);
  assertEquals(await source.sha256, sha256);
  await assertRejects(() => readSource(`${model}.missing`), Deno.errors.NotFound);
});

Deno.test("without read access to the worker's module, the hash runs here, quietly", async () => {
  const file = await Deno.makeTempFile({ suffix: ".ts" });
  try {
    await Deno.writeTextFile(
      file,
      `import { readSource } from ${
        JSON.stringify(new URL("../zoo/load.ts", import.meta.url).href)
      };
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
