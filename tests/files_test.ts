import { assertEquals, assertRejects } from "@std/assert";
import { readWholeFile } from "../convert/files.ts";

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
  await assertRejects(() => readWholeFile(here("./no_such_file.bin")), Deno.errors.NotFound);
});

Deno.test("readWholeFile reads past the size it was opened with (/proc files report 0)", async () => {
  // /proc/self/status reports a size of 0 but has content: the growth path must read it.
  if (Deno.build.os !== "linux") return;
  const text = new TextDecoder().decode(await readWholeFile("/proc/self/status"));
  assertEquals(text.startsWith("Name:"), true);
  assertEquals(text.includes("VmRSS:"), true);
});
