import { assertEquals, assertRejects } from "@std/assert";
import { createHash } from "node:crypto";
import { digestFile, hashFile, hashFileInWorker } from "../zoo/hash.ts";
import { digest, readSource } from "../zoo/load.ts";

const model = new URL("../models/cifar_resnet20.safetensors", import.meta.url).pathname;
const bytes = await Deno.readFile(model);
const sha256 = createHash("sha256").update(bytes).digest("hex");

Deno.test("a file's digest is the same on this thread, in a worker and from its bytes", async () => {
  assertEquals(await hashFile(model, "sha256"), sha256);
  assertEquals(await digestFile(model, "md5"), {
    hex: createHash("md5").update(bytes).digest("hex"),
    bytes: bytes.length,
  });
  assertEquals(await hashFileInWorker(model, "sha256"), { hex: sha256, bytes: bytes.length });
  assertEquals(await digest("SHA-256", bytes), sha256);
  await assertRejects(() => hashFileInWorker(`${model}.missing`, "sha256"), Error, "No such file");
});

Deno.test("readSource returns the file's bytes and their SHA-256", async () => {
  const source = await readSource(model);
  assertEquals(source.bytes, bytes);
  assertEquals(await source.sha256, sha256);
});

Deno.test("without read access to its module, the worker's hash runs here, quietly", async () => {
  const script = `
    import { hashFileInWorker } from ${
    JSON.stringify(new URL("../zoo/hash.ts", import.meta.url).href)
  };
    console.log((await hashFileInWorker(${JSON.stringify(model)}, "sha256")).hex);
  `;
  const file = await Deno.makeTempFile({ suffix: ".ts" });
  try {
    await Deno.writeTextFile(file, script);
    const narrow = new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-prompt", `--allow-read=${model},${file}`, file],
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
