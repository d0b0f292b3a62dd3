import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { readNpy, writeNpy } from "../formats/npy.ts";
import { decodeImage } from "../vision/decode.ts";
import { loadSharp } from "../vision/libvips.ts";
import { splitImageRows } from "../vision/tiles.ts";
import { cifar10Labels } from "../arch/labels.ts";
import { type CliResult, relativeError, runCli } from "./helpers.ts";

const root = new URL("../", import.meta.url).pathname;
const here = (path: string) => new URL(path, import.meta.url).pathname;

const cli = (...args: string[]): Promise<CliResult> => runCli(args, { DENOZOO_OFFLINE: "1" });
const cliWith = (env: Record<string, string>, ...args: string[]): Promise<CliResult> =>
  runCli(args, env);

/** The 1000 CIFAR-10 test images as PNG files in a temporary folder, and their labels. */
async function cifarFolder(): Promise<{ dir: string; labels: number[] }> {
  const dir = await Deno.makeTempDir();
  const strip = await decodeImage(
    await Deno.readFile(here("../testdata/cifar10-test/test_1000.png")),
    "test_1000.png",
  );
  const labels: number[] = JSON.parse(
    await Deno.readTextFile(here("../testdata/cifar10-test/test_1000_labels.json")),
  );
  const sharp = await loadSharp();
  await Promise.all(
    splitImageRows(strip, 32, 32).map((image, i) =>
      sharp(image.data, { raw: { width: 32, height: 32, channels: 3 } }).png().toFile(
        `${dir}/${String(i).padStart(4, "0")}.png`,
      )
    ),
  );
  return { dir, labels };
}

type ClassifyJson = {
  image: string;
  predictions: { index: number; label: string; probability: number }[];
}[];

/** `classify --json` output (one object per line), or `--json-array` output (one array). */
function classifyJson(stdout: string): ClassifyJson {
  return stdout.trimStart().startsWith("[")
    ? JSON.parse(stdout)
    : stdout.trim().split("\n").map((line) => JSON.parse(line));
}

/** Top-1 hits of `classify --json` output against the labels, images in file-name order. */
function hits(stdout: string, labels: number[]): number {
  const results = classifyJson(stdout);
  assertEquals(results.length, labels.length);
  return results.filter((r, i) =>
    r.image.endsWith(`${String(i).padStart(4, "0")}.png`) && r.predictions[0].index === labels[i]
  ).length;
}

Deno.test("classify on the 1000 CIFAR-10 test images: bundled ResNet-20 91.5 %, Keras ResNet-8 88.1 %", async () => {
  const { dir, labels } = await cifarFolder();
  try {
    const bundled = await cli(
      "classify",
      dir,
      "--json",
      "--top",
      "1",
      "--batch",
      "250",
      "--backend",
      "wasm",
    );
    assertEquals(bundled.code, 0, bundled.stderr);
    assertEquals(hits(bundled.stdout, labels), 915);
    const first = classifyJson(bundled.stdout);
    assertEquals(first[0].predictions[0].label, cifar10Labels[first[0].predictions[0].index]);
    // MLPerf Tiny's ResNet-8 is no zoo ResNet: it runs from its own Keras graph, raw 0–255 input.
    const keras = await cli(
      "classify",
      dir,
      "--model",
      here("../testdata/keras-mlperf-tiny/resnet8_cifar10.h5"),
      "--preprocess",
      "CIFAR10_RAW",
      "--json-array",
      "--top",
      "1",
      "--batch",
      "250",
    );
    assertEquals(keras.code, 0, keras.stderr);
    assertEquals(hits(keras.stdout, labels), 881);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("convert writes a tfjs layers model for a Keras network outside the zoo; predict runs both", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const source = here("../testdata/keras-mlperf-tiny/resnet8_cifar10.h5");
    const converted = await cli("convert", source, "--out", `${dir}/resnet8`);
    assertEquals(converted.code, 0, converted.stderr);
    assertStringIncludes(converted.stdout, "a tfjs layers model, since no zoo spec matches");
    assertStringIncludes(converted.stdout, "parameters:    78,666");
    const input = here("../testdata/fixtures/onnx_ops/flatten_gemm_input.npy");
    const x = readNpy(await Deno.readFile(input), "x");
    // A raw 0–255 NHWC batch for the Keras model, made from the fixture's numbers.
    const nhwc = `${dir}/x.npy`;
    const values = new Float32Array(2 * 32 * 32 * 3).map((_, i) =>
      Math.abs((x.data as Float32Array)[i % x.data.length]) * 60
    );
    await Deno.writeFile(nhwc, writeNpy([2, 32, 32, 3], values));
    for (const [weights, out] of [[source, "a"], [`${dir}/resnet8/model.json`, "b"]]) {
      const run = await cli(
        "predict",
        "--weights",
        weights,
        "--input",
        nhwc,
        "--output",
        `${dir}/${out}.npy`,
      );
      assertEquals(run.code, 0, run.stderr);
    }
    const a = readNpy(await Deno.readFile(`${dir}/a.npy`), "a").data as Float32Array;
    const b = readNpy(await Deno.readFile(`${dir}/b.npy`), "b").data as Float32Array;
    assertEquals(Array.from(b), Array.from(a));
    // An ONNX network outside the zoo runs as it is, in its declared NCHW layout.
    const onnx = await cli(
      "predict",
      "--weights",
      here("../testdata/fixtures/onnx_ops/flatten_gemm.onnx"),
      "--input",
      input,
      "--input-layout",
      "nchw",
      "--output",
      `${dir}/c.npy`,
    );
    assertEquals(onnx.code, 0, onnx.stderr);
    const got = readNpy(await Deno.readFile(`${dir}/c.npy`), "c").data as Float32Array;
    const expected = readNpy(
      await Deno.readFile(here("../testdata/fixtures/onnx_ops/flatten_gemm_output.npy")),
      "e",
    )
      .data as Float32Array;
    assert(relativeError(got, expected) < 1e-4, `relative error ${relativeError(got, expected)}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("classify prints a labelled table for a photo", async () => {
  const { code, stdout } = await cli(
    "classify",
    here("../testdata/images/cat.jpg"),
    "--top",
    "3",
    "--backend",
    "cpu",
  );
  assertEquals(code, 0);
  assertStringIncludes(stdout, "cat.jpg");
  assertEquals(stdout.trim().split("\n").length, 4);
  assert(/1\. \w+ +\d+\.\d\d%/.test(stdout), stdout);
});

Deno.test("convert reports the architecture and writes a zoo file that predict runs", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const out = `${dir}/tv_basic.safetensors`;
    const converted = await cli(
      "convert",
      here("../testdata/fixtures/nets/tv_basic.onnx"),
      "--out",
      out,
    );
    assertEquals(converted.code, 0, converted.stderr);
    assertStringIncludes(converted.stdout, "source format: onnx");
    assertStringIncludes(converted.stdout, "architecture:  resnet12_custom");
    assertStringIncludes(converted.stdout, "33,826 trainable");
    const predicted = await cli(
      "predict",
      "--weights",
      out,
      "--input",
      here("../testdata/fixtures/nets/tv_basic_input.npy"),
      "--input-layout",
      "nchw",
      "--output",
      `${dir}/logits.npy`,
      "--backend",
      "wasm",
    );
    assertEquals(predicted.code, 0, predicted.stderr);
    const got = readNpy(await Deno.readFile(`${dir}/logits.npy`), "logits").data as Float32Array;
    const expected = readNpy(
      await Deno.readFile(here("../testdata/fixtures/nets/tv_basic_logits.npy")),
      "ref",
    ).data as Float32Array;
    const error = relativeError(got, expected);
    assert(error < 1e-4, `relative error ${error}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the threaded wasm build runs 2 threads and predicts as the single-threaded one", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const input = `${dir}/x.npy`;
    const values = Float32Array.from({ length: 8 * 32 * 32 * 3 }, (_, i) => Math.sin(i * 0.37));
    await Deno.writeFile(input, writeNpy([8, 32, 32, 3], values));
    const logits: Float32Array[] = [];
    for (const threads of ["1", "2"]) {
      const output = `${dir}/y${threads}.npy`;
      const run = await cli(
        "predict",
        "--weights",
        `${root}models/cifar_resnet20.safetensors`,
        "--input",
        input,
        "--output",
        output,
        "--backend",
        "wasm",
        "--threads",
        threads,
      );
      assertEquals(run.code, 0, run.stderr);
      logits.push(readNpy(await Deno.readFile(output), output).data as Float32Array);
    }
    assertEquals(logits[1].length, 80);
    // The threaded build fuses multiply-adds (see zoo/wasm_relaxed.ts): float32 rounding apart.
    const error = relativeError(logits[1], logits[0]);
    assert(error < 1e-5, `relative error ${error}`);
    const bench = await cli(
      "bench",
      "--model",
      "cifar_resnet20",
      "--backend",
      "wasm",
      "--threads",
      "2",
      "--runs",
      "2",
      "--json",
    );
    assertEquals(bench.code, 0, bench.stderr);
    const row = JSON.parse(bench.stdout.trim().split("\n")[0]);
    assertEquals([row.engine, row.backend, row.threads], ["tfjs", "wasm", 2]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("convert --verify checks an ONNX source against onnxruntime; --out .onnx exports", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const out = `${dir}/tv_bottleneck.onnx`;
    const result = await cli(
      "convert",
      here("../testdata/fixtures/nets/tv_bottleneck_bn.onnx"),
      "--out",
      out,
      "--verify",
    );
    assertEquals(result.code, 0, result.stderr);
    const line = result.stdout.split("\n").find((l) => l.startsWith("verify:"))!;
    assert(/top-1 agreement 2\/2/.test(line), line);
    const relative = Number(/relative ([0-9.e+-]+)/.exec(line)![1]);
    assert(relative < 1e-4, line);
    // The exported ONNX imports again as the same architecture.
    const again = await cli("convert", out, "--out", `${dir}/again.safetensors`);
    assertStringIncludes(again.stdout, "architecture:  resnet17_custom");
    const notOnnx = await cli(
      "convert",
      here("../testdata/fixtures/nets/tv_basic.pth"),
      "--out",
      `${dir}/x.safetensors`,
      "--verify",
    );
    assertEquals(notOnnx.code, 2);
    assertStringIncludes(notOnnx.stderr, "--verify needs an ONNX source");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("convert --engine picks what runs the converted model in the verification, and says which", async () => {
  const dir = await Deno.makeTempDir();
  const source = here("../testdata/fixtures/nets/tv_basic.onnx");
  const exists = (path: string) => Deno.stat(path).then(() => true, () => false);
  const verifyLine = (stdout: string) =>
    stdout.split("\n").find((l) => l.startsWith("verify:")) ?? "";
  try {
    for (const [engine, ran] of [["tfjs", "tfjs-"], ["onnxruntime", "onnxruntime)"]]) {
      const out = `${dir}/${engine}.safetensors`;
      const result = await cli("convert", source, "--out", out, "--engine", engine);
      assertEquals(result.code, 0, result.stderr);
      const line = verifyLine(result.stdout);
      assertStringIncludes(
        line,
        `top-1 agreement 2/2 against onnxruntime (converted model on ${ran}`,
      );
      assert(Number(/relative ([0-9.e+-]+)/.exec(line)![1]) < 1e-4, line);
      assert(await exists(out), out);
    }
    // Where the addon cannot load, auto verifies on tfjs beside the source's own graph, and a
    // forced onnxruntime says so in one line.
    const noFfi = (...args: string[]) => runCli(args, { DENOZOO_OFFLINE: "1" }, { deny: ["ffi"] });
    const fallback = await noFfi("convert", source, "--out", `${dir}/auto.safetensors`);
    assertEquals(fallback.code, 0, fallback.stderr);
    assertStringIncludes(
      verifyLine(fallback.stdout),
      "against its own graph on tfjs (converted model on tfjs-",
    );
    const forced = await noFfi(
      "convert",
      source,
      "--out",
      `${dir}/x.safetensors`,
      "--engine",
      "onnxruntime",
    );
    assertEquals([forced.code, forced.stderr.trim().split("\n").length], [1, 1], forced.stderr);
    assertStringIncludes(forced.stderr, "engine 'onnxruntime' is not available");

    const refusals = [
      [["--engine", "bogus"], "--engine must be one of auto, tfjs, onnxruntime, got 'bogus'"],
      [["--engine", "onnxruntime", "--no-verify"], "which --no-verify skips"],
    ] as const;
    for (const [flags, message] of refusals) {
      const refused = await cli("convert", source, "--out", `${dir}/x.safetensors`, ...flags);
      assertEquals(refused.code, 2, refused.stderr);
      assertStringIncludes(refused.stderr, message);
    }
    const weightsOnly = await cli(
      "convert",
      here("../testdata/fixtures/nets/tv_basic.pth"),
      "--out",
      `${dir}/x.safetensors`,
      "--engine",
      "tfjs",
    );
    assertEquals(weightsOnly.code, 2, weightsOnly.stderr);
    assertStringIncludes(weightsOnly.stderr, "holds weights without a graph");
    assert(!(await exists(`${dir}/x.safetensors`)), "a refusal writes nothing");

    const help = await cli("convert", "--help");
    assertEquals(help.code, 0, help.stderr);
    assertStringIncludes(help.stdout, "--engine NAME");
    assertStringIncludes(
      help.stdout.replace(/\s+/g, " "),
      "what runs the converted model in the verification",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("bench --json reports one object per engine with the ORT ratio", async () => {
  const result = await cli(
    "bench",
    "--model",
    "cifar_resnet20",
    "--engine",
    "all",
    "--runs",
    "3",
    "--json",
  );
  assertEquals(result.code, 0, result.stderr);
  const rows = result.stdout.trim().split("\n").map((l) => JSON.parse(l));
  assertEquals(rows.map((r) => r.engine), ["tfjs", "onnxruntime"]);
  for (const row of rows) {
    for (
      const key of [
        "model",
        "engine",
        "backend",
        "batch",
        "median_ms",
        "images_per_s",
        "peak_rss_mb",
        "ort_median_ms",
        "ratio_vs_ort",
      ]
    ) {
      assert(key in row, key);
    }
    assert(row.median_ms > 0 && row.peak_rss_mb > 0);
  }
  assertEquals(rows[1].ratio_vs_ort, 1);
});

Deno.test("bad input gets a clear error naming the file, and nothing is written", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const bogus = `${dir}/broken.onnx`;
    await Deno.writeFile(bogus, new Uint8Array([8, 7, 18, 3, 1, 2]));
    const out = `${dir}/out.safetensors`;
    const result = await cli("convert", bogus, "--out", out);
    assertEquals(result.code, 1);
    assertStringIncludes(result.stderr, "broken.onnx");
    assert(!result.stderr.includes("    at "), "no stack trace");
    await assertMissing(out);
    const usage = await cli("convert", bogus);
    assertEquals(usage.code, 2);
    assertStringIncludes(usage.stderr, "--out");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("list and info show the registry", async () => {
  const listed = await cli("list", "--json");
  assertEquals(listed.code, 0);
  const rows: { id: string; params: number }[] = JSON.parse(listed.stdout);
  const resnet50 = rows.find((r) => r.id === "resnet50.tv_in1k");
  assertEquals(resnet50?.params, 25_557_032);
  assert(rows.some((r) => r.id === "cifar_resnet20.cifar10"));
  const table = await cli("list");
  assertStringIncludes(table.stdout, "resnet50.keras_in1k");
  const shown = await cli("info", "cifar_resnet20.cifar10");
  assertEquals(shown.code, 0);
  assertStringIncludes(shown.stdout, "resnet20-12fca82f.th");
});

async function assertMissing(path: string): Promise<void> {
  try {
    await Deno.stat(path);
    throw new Error(`${path} should not exist`);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

// ResNet-32, since ResNet-20's id means the bundled file, which classify never downloads.
Deno.test("pull downloads through a mirror once, converts once, and classify then runs offline", async () => {
  const home = await Deno.makeTempDir();
  const checkpoint = await Deno.readFile(here("../testdata/cifar10-resnet/resnet32-d509ac18.th"));
  const requests: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (request) => {
    const path = new URL(request.url).pathname;
    requests.push(path);
    if (
      path !==
        "/github.com/akamaster/pytorch_resnet_cifar10/raw/master/pretrained_models/resnet32-d509ac18.th"
    ) {
      return new Response("not found", { status: 404 });
    }
    return new Response(checkpoint);
  });
  const env = { DENOZOO_HOME: home, DENOZOO_MIRROR: `http://127.0.0.1:${server.addr.port}` };
  try {
    const first = await cliWith(env, "pull", "cifar_resnet32.cifar10");
    assertEquals(first.code, 0, first.stderr);
    assertStringIncludes(first.stdout, `${home}/models/cifar_resnet32.cifar10.safetensors`);
    assertEquals(requests.length, 1);
    const second = await cliWith(env, "pull", "cifar_resnet32.cifar10");
    assertEquals(second.code, 0, second.stderr);
    assertEquals(requests.length, 1, "the converted file is reused");
    const verified = await cliWith(env, "pull", "cifar_resnet32.cifar10", "--verify");
    assertStringIncludes(verified.stdout, "cifar_resnet32.cifar10: ok");
    const offline = await cliWith(
      { DENOZOO_HOME: home, DENOZOO_OFFLINE: "1" },
      "classify",
      here("../testdata/images/cat.jpg"),
      "--model",
      "cifar_resnet32.cifar10",
      "--top",
      "1",
      "--json",
    );
    assertEquals(offline.code, 0, offline.stderr);
    assertEquals(classifyJson(offline.stdout)[0].predictions[0].label, "cat");
    const missing = await cliWith(
      { DENOZOO_HOME: home, DENOZOO_OFFLINE: "1" },
      "pull",
      "cifar_resnet44.cifar10",
    );
    assertEquals(missing.code, 1);
    assertStringIncludes(missing.stderr, "resnet44-014dd654.th");
  } finally {
    await server.shutdown();
    await Deno.remove(home, { recursive: true });
  }
});
