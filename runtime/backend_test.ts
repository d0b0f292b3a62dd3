import { assertEquals, assertStringIncludes } from "@std/assert";
import { hardwareGpuAvailable, useBackend } from "./backend.ts";

const root = new URL("../", import.meta.url).pathname;

Deno.test("createModel needs no backend chosen first: it starts tfjs's best", async () => {
  const script = `
    import * as tf from "@tensorflow/tfjs-core";
    import { createModel } from "${root}mod.ts";
    const model = await createModel("cifar_resnet20");
    console.log(model.layersModel.name, tf.getBackend());
  `;
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--config", `${root}deno.json`, script],
    env: { XDG_RUNTIME_DIR: "/tmp" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  assertEquals(code, 0, text.decode(stderr));
  assertEquals(text.decode(stdout).trim(), "cifar_resnet20 wasm");
});

Deno.test("a model of the synchronous layer used before any backend was chosen starts cpu and says so", async () => {
  const script = `
    import * as tf from "@tensorflow/tfjs-core";
    import { createModel } from "${root}runtime/mod.ts";
    const model = createModel("cifar_resnet20");
    console.log(model.layersModel.name, tf.getBackend());
    console.log(model.predict(tf.zeros([1, 32, 32, 3])).shape.join("x"));
  `;
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--config", `${root}deno.json`, script],
    env: { XDG_RUNTIME_DIR: "/tmp" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  assertEquals(code, 0, text.decode(stderr));
  assertEquals(text.decode(stdout).trim().split("\n"), ["cifar_resnet20 cpu", "1x10"]);
  assertStringIncludes(
    text.decode(stderr),
    "no tfjs backend was chosen, so the cpu backend started; `await useBackend()` first",
  );
});

Deno.test("useBackend('auto') takes WebGPU only on a hardware GPU, as the CLI does", async () => {
  // Mesa's software adapter (llvmpipe) is present here and in CI: 'auto' must not take it.
  const expected = (await hardwareGpuAvailable()) ? "webgpu" : "wasm";
  assertEquals(await useBackend("auto"), expected);
});
