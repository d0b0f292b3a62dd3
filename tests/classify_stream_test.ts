/**
 * `classify` as a batch tool, run as a user runs it: a folder with an unreadable file among
 * good ones, JSON lines, WebGPU, a model that ends in a softmax, and the progress line on a
 * terminal.
 */

import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { writeNpy } from "../formats/npy.ts";
import { readNpy } from "../formats/npy.ts";
import { decodeImage } from "../vision/decode.ts";
import { preprocessImages } from "../vision/preprocess.ts";
import { CIFAR10_RAW } from "../arch/preprocess.ts";
import { useBackend } from "../runtime/backend.ts";
import { type CliResult, runCli } from "./helpers.ts";

const root = new URL("../", import.meta.url).pathname;
const IMAGES = ["cat.jpg", "fish-bike.jpg", "grace_hopper.jpg"];

const cli = (...args: string[]): Promise<CliResult> => runCli(args, { DENOZOO_OFFLINE: "1" });

/** The three test photos and, sorted between them, a JPEG cut off after 20 kB. */
async function folderWithTruncatedJpeg(): Promise<string> {
  const dir = await Deno.makeTempDir();
  for (const name of IMAGES) {
    await Deno.copyFile(`${root}testdata/images/${name}`, `${dir}/${name}`);
  }
  const cat = await Deno.readFile(`${root}testdata/images/cat.jpg`);
  await Deno.writeFile(`${dir}/dog.jpg`, cat.subarray(0, 20_000));
  return dir;
}

Deno.test("a truncated JPEG among good images: every good one printed, the bad one named, exit 1", async () => {
  const dir = await folderWithTruncatedJpeg();
  try {
    const table = await cli("classify", dir, "--top", "1", "--batch", "2");
    assertEquals(table.code, 1);
    const headers = table.stdout.split("\n").filter((line) => line.startsWith(dir));
    assertEquals(headers, [
      `${dir}/cat.jpg  (cifar_resnet20.cifar10 (bundled))`,
      `${dir}/fish-bike.jpg  (cifar_resnet20.cifar10 (bundled))`,
      `${dir}/grace_hopper.jpg  (cifar_resnet20.cifar10 (bundled))`,
    ]);
    assertStringIncludes(table.stdout, "1. cat  100.00%  [3]");
    const failures = table.stderr.split("\n").filter((line) => line.startsWith("denozoo:"));
    assertEquals(failures, [
      `denozoo: ${dir}/dog.jpg: invalid JPEG image: corrupt or truncated data (libvips stopped decoding it)`,
      "denozoo: 1 of 4 images could not be read or decoded (named above)",
    ]);

    const lines = await cli("classify", dir, "--top", "1", "--json", "--batch", "2");
    assertEquals(lines.code, 1);
    const records = lines.stdout.trim().split("\n").map((line) => JSON.parse(line));
    assertEquals(records.map((r) => [r.image.slice(dir.length + 1), r.predictions?.[0].label]), [
      ["cat.jpg", "cat"],
      ["dog.jpg", undefined],
      ["fish-bike.jpg", "bird"],
      ["grace_hopper.jpg", "truck"],
    ]);
    assertEquals(records[1], {
      image: `${dir}/dog.jpg`,
      model: "cifar_resnet20.cifar10 (bundled)",
      engine: "onnxruntime",
      error:
        `${dir}/dog.jpg: invalid JPEG image: corrupt or truncated data (libvips stopped decoding it)`,
    });
    assertEquals([records[0].model, records[0].engine], [
      "cifar_resnet20.cifar10 (bundled)",
      "onnxruntime",
    ]);
    assertStringIncludes(lines.stderr, `denozoo: ${dir}/dog.jpg: invalid JPEG`);

    // The array of earlier versions stays available, with the same objects.
    const array = await cli("classify", dir, "--top", "1", "--json-array", "--batch", "2");
    assertEquals(array.code, 1);
    assertEquals(JSON.parse(array.stdout), records);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("classify --backend webgpu runs on Mesa's software adapter and prints cat", async () => {
  const { code, stdout, stderr } = await cli(
    "classify",
    `${root}testdata/images/cat.jpg`,
    "--backend",
    "webgpu",
    "--top",
    "1",
  );
  assertEquals(code, 0, stderr);
  assertStringIncludes(stdout, "1. cat  100.00%  [3]");
  assertStringIncludes(stderr, "engine: tfjs-webgpu");
});

Deno.test("a Keras model that ends in a softmax: classify's probabilities are predict's output", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const model = `${root}testdata/keras-mlperf-tiny/resnet8_cifar10.h5`;
    const cat = `${root}testdata/images/cat.jpg`;
    // The batch classify makes from cat.jpg with CIFAR10_RAW, for predict.
    await useBackend("wasm");
    const x = preprocessImages([await decodeImage(await Deno.readFile(cat), cat)], CIFAR10_RAW);
    await Deno.writeFile(`${dir}/x.npy`, writeNpy(x.shape, (await x.data()) as Float32Array));
    x.dispose();
    const predicted = await cli(
      "predict",
      "--weights",
      model,
      "--input",
      `${dir}/x.npy`,
      "--output",
      `${dir}/y.npy`,
    );
    assertEquals(predicted.code, 0, predicted.stderr);
    const output = readNpy(await Deno.readFile(`${dir}/y.npy`), "y").data as Float32Array;
    const classified = await cli(
      "classify",
      cat,
      "--model",
      model,
      "--preprocess",
      "CIFAR10_RAW",
      "--top",
      "10",
      "--json",
    );
    assertEquals(classified.code, 0, classified.stderr);
    const { predictions } = JSON.parse(classified.stdout);
    assertEquals(predictions.length, 10);
    assertEquals(predictions[0].label, "cat");
    for (const { index, probability } of predictions) {
      assert(
        Math.abs(probability - output[index]) < 1e-5,
        `${index}: ${probability} vs ${output[index]}`,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Whether util-linux's `script` is here to run a command on a pseudo-terminal. */
const haveScript = new Deno.Command("script", {
  args: ["--version"],
  stdout: "null",
  stderr: "null",
})
  .output().then((r) => r.success, () => false);

Deno.test({
  name: "on a terminal the progress line shows rate and ETA and is cleared before each result",
  ignore: !(await haveScript),
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      for (const name of IMAGES) {
        await Deno.copyFile(`${root}testdata/images/${name}`, `${dir}/${name}`);
      }
      const command = [
        Deno.execPath(),
        "run",
        "-A",
        `${root}cli.ts`,
        "classify",
        dir,
        "--top",
        "1",
        "--batch",
        "1",
      ]
        .map((arg) => `'${arg}'`).join(" ");
      const { code, stdout } = await new Deno.Command("script", {
        args: ["-qefc", command, "/dev/null"],
        env: { XDG_RUNTIME_DIR: "/tmp", DENOZOO_OFFLINE: "1", NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const terminal = new TextDecoder().decode(stdout);
      assertEquals(code, 0, terminal);
      assert(/classified 1\/3 {2}[\d.]+ images\/s {2}ETA \d+s/.test(terminal), terminal);
      for (const name of IMAGES) {
        // Each result starts on a line the progress line was erased from.
        assertStringIncludes(terminal, `\r\x1b[2K${dir}/${name}  (`);
      }
      assert(!/classified \d+\/\d+[^\r\n]*\.jpg {2}\(/.test(terminal), terminal);
      // Piped, stderr gets no progress at all.
      const piped = await cli("classify", dir, "--top", "1", "--batch", "1");
      assertEquals(piped.stderr, "engine: onnxruntime\n");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
