/**
 * `predict` on many inputs: CIFAR ResNet-56 on the 1000 shared test images, streamed batch by
 * batch on every engine, against torch's logits (`testdata/fixtures/cifar/generate_resnet56.py`);
 * `--engine` honoured; inputs of the wrong rank or layout explained. Memory is measured by
 * `bench/predict_memory.ts`, not here.
 */

import { assert, assertEquals, assertRejects, assertStringIncludes } from "@std/assert";
import { npyHeader, readNpy, writeNpy } from "../formats/npy.ts";
import { writeCifarInput } from "../tools/cifar_npy.ts";
import { type CliResult, relativeError, runCli } from "./helpers.ts";

const root = new URL("../", import.meta.url).pathname;
const RESNET56 = `${root}testdata/cifar10-resnet/resnet56-4bfd9763.th`;

const cli = (...args: string[]): Promise<CliResult> => runCli(args, { DENOZOO_OFFLINE: "1" });

const reference = readNpy(
  await Deno.readFile(`${root}testdata/fixtures/cifar/resnet56_logits.npy`),
  "resnet56_logits.npy",
).data as Float32Array;

Deno.test("predict of ResNet-56 on the 1000 CIFAR-10 images matches torch on every engine", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await writeCifarInput(`${dir}/x1000.npy`, 1000);
    // The software rasteriser and the cpu backend are slow: one batch of 16 there.
    await writeCifarInput(`${dir}/x16.npy`, 16);
    const runs: [string, string[], string][] = [
      ["x1000", ["--engine", "onnxruntime"], "onnxruntime"],
      ["x1000", ["--engine", "tfjs", "--backend", "wasm", "--batch", "100"], "tfjs-wasm"],
      ["x16", ["--backend", "cpu"], "tfjs-cpu"],
      ["x16", ["--backend", "webgpu"], "tfjs-webgpu"],
    ];
    for (const [input, flags, engine] of runs) {
      const output = `${dir}/${engine}.npy`;
      const run = await cli(
        "predict",
        "--weights",
        RESNET56,
        "--input",
        `${dir}/${input}.npy`,
        "--input-layout",
        "nchw",
        "--output",
        output,
        ...flags,
      );
      assertEquals(run.code, 0, run.stderr);
      const rows = input === "x1000" ? 1000 : 16;
      assertEquals(run.stdout, `cifar_resnet56: wrote logits [${rows},10] to ${output}\n`);
      assertStringIncludes(run.stderr, `engine: ${engine}`);
      const logits = readNpy(await Deno.readFile(output), output);
      assertEquals(logits.shape, [rows, 10]);
      const error = relativeError(logits.data as Float32Array, reference.subarray(0, rows * 10));
      assert(error < 1e-4, `${engine}: relative error ${error}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("predict explains an NCHW file given as NHWC, a 3-D array, and an engine a model cannot run on", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await writeCifarInput(`${dir}/x.npy`, 4);
    const nchw = await cli(
      "predict",
      "--weights",
      RESNET56,
      "--input",
      `${dir}/x.npy`,
      "--output",
      `${dir}/y.npy`,
    );
    assertEquals(nchw.code, 1);
    // The last line: warnings of what the .th file could not tell come first.
    assertEquals(
      nchw.stderr.split("\n").at(-2),
      `denozoo: ${dir}/x.npy: expected a batch [batch, height, width, channels] with 3 channels last, ` +
        "got shape [4,3,32,32]: it looks NCHW (3 channels on axis 1); pass --input-layout nchw",
    );
    await Deno.writeFile(`${dir}/image.npy`, writeNpy([32, 32, 3], new Float32Array(3072)));
    const rank = await cli(
      "predict",
      "--weights",
      RESNET56,
      "--input",
      `${dir}/image.npy`,
      "--output",
      `${dir}/y.npy`,
    );
    assertEquals(rank.code, 1);
    assertEquals(
      rank.stderr.split("\n").at(-2),
      `denozoo: ${dir}/image.npy: expected a 4-D batch [batch, height, width, channels], ` +
        "got shape [32,32,3] (3-D): add a batch axis",
    );
    const keras = await cli(
      "predict",
      "--weights",
      `${root}testdata/keras-mlperf-tiny/resnet8_cifar10.h5`,
      "--input",
      `${dir}/x.npy`,
      "--input-layout",
      "nchw",
      "--output",
      `${dir}/y.npy`,
      "--engine",
      "onnxruntime",
    );
    assertEquals(keras.code, 1);
    assertStringIncludes(
      keras.stderr,
      "is a Keras network, which runs on tfjs only; engine 'onnxruntime' runs zoo ResNets and ONNX files (use --engine tfjs or auto)",
    );
    for (const name of ["y.npy", `y.npy.${Deno.pid}.tmp`]) {
      assert(!(await Deno.stat(`${dir}/${name}`).then(() => true, () => false)), name);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("predict --engine onnxruntime runs an ONNX graph of its own as onnxruntime does", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const fixture = `${root}testdata/fixtures/onnx_ops/view_op9`;
    const run = await cli(
      "predict",
      "--weights",
      `${fixture}.onnx`,
      "--input",
      `${fixture}_input.npy`,
      "--input-layout",
      "nchw",
      "--output",
      `${dir}/y.npy`,
      "--engine",
      "onnxruntime",
    );
    assertEquals(run.code, 0, run.stderr);
    assertStringIncludes(run.stderr, "engine: onnxruntime");
    const got = readNpy(await Deno.readFile(`${dir}/y.npy`), "y").data as Float32Array;
    const expected = readNpy(await Deno.readFile(`${fixture}_output.npy`), "e")
      .data as Float32Array;
    assert(relativeError(got, expected) < 1e-5, `relative error ${relativeError(got, expected)}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("predict on 2 wasm threads refuses a graph's batch too large for the heap in one line, without hanging", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // 20000 CIFAR-sized images of zeros: 246 MB of input, 5.3 GiB of ResNet-8 activations at the
    // peak, past the 4 GiB wasm heap: before the preflight, this run hung.
    const rows = 20_000;
    const file = await Deno.open(`${dir}/big.npy`, { write: true, create: true });
    await file.write(npyHeader([rows, 32, 32, 3]));
    await file.truncate(npyHeader([rows, 32, 32, 3]).length + rows * 32 * 32 * 3 * 4);
    file.close();
    const started = performance.now();
    const run = await cli(
      "predict",
      "--weights",
      `${root}testdata/keras-mlperf-tiny/resnet8_cifar10.h5`,
      "--input",
      `${dir}/big.npy`,
      "--output",
      `${dir}/y.npy`,
      "--batch",
      String(rows),
      "--backend",
      "wasm",
      "--threads",
      "2",
    );
    const seconds = (performance.now() - started) / 1000;
    assertEquals(run.code, 1, run.stderr);
    const refusal = run.stderr.trim().split("\n").filter((line) => line.includes("memory"));
    assertEquals(refusal.length, 1, run.stderr);
    const match = refusal[0].match(
      /^denozoo: a batch of 20000 would run tfjs-wasm \(2 threads\) out of memory: lower --batch to at most (\d+)$/,
    );
    const maxBatch = Number(match?.[1]);
    assert(maxBatch > 1000 && maxBatch < rows, run.stderr);
    assert(seconds < 30, `took ${seconds.toFixed(1)} s`);
    await assertRejects(() => Deno.stat(`${dir}/y.npy`), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
