/**
 * float16 and int8 zoo files of the four real CIFAR-10 checkpoints, made by the CLI
 * (`convert … --dtype float16|int8 --calibrate DIR`) and measured on the shared CIFAR-10 test
 * images: top-1 against float32 (PyTorch's own numbers for float32, testdata/fixtures/cifar),
 * file sizes, and that classify and bench pick the int8 engine from the file.
 *
 * The int8 activations are calibrated on images 0–99 and every int8 accuracy is measured on
 * images 100–999 only; float16 needs no calibration and is measured on all 1000.
 *
 * @module
 */

import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { loadClassifier } from "../pipelines/load.ts";
import { classifyImages } from "../pipelines/classify.ts";
import { decodeImage } from "../vision/decode.ts";
import { imageName, writeCifarImages } from "../tools/cifar_image_folder.ts";
import { splitImageRows } from "../vision/tiles.ts";
import type { RgbImage } from "../vision/rgb_image.ts";
import { readZooHeader } from "../convert/zoofile.ts";
import { useBackend } from "../runtime/backend.ts";
import { runCli } from "./helpers.ts";
import { pullWeights } from "../pipelines/pull.ts";
import { cachedPath } from "../hub/cache.ts";
import { findWeights } from "../hub/registry.ts";

await useBackend("wasm");

const here = (path: string) => new URL(path, import.meta.url).pathname;

const cli = (...args: string[]) => runCli(args, { NO_COLOR: "1" });

const strip = await decodeImage(
  await Deno.readFile(here("../testdata/cifar10-test/test_1000.png")),
  "test_1000.png",
);
const images = splitImageRows(strip, 32, 32);
const labels: number[] = JSON.parse(
  await Deno.readTextFile(here("../testdata/cifar10-test/test_1000_labels.json")),
);
/** The calibration images: 0–99, as the PNG files a user would point `--calibrate` at. */
const CALIBRATION = 100;

/** Correct top-1 predictions of a weights file on images [from, 1000), on onnxruntime. */
async function correct(model: string, from: number): Promise<{ correct: number; engine: string }> {
  const classifier = await loadClassifier(model, { engine: "onnxruntime" });
  let hits = 0;
  for (let start = from; start < images.length; start += 100) {
    const batch: RgbImage[] = images.slice(start, start + 100);
    const predictions = await classifyImages(classifier, batch, { top: 1 });
    predictions.forEach(([best], i) => hits += best.index === labels[start + i] ? 1 : 0);
  }
  const engine = classifier.engine.name;
  await classifier.engine.dispose();
  return { correct: hits, engine };
}

const CHECKPOINTS = [
  ["resnet20", "resnet20-12fca82f.th"],
  ["resnet32", "resnet32-d509ac18.th"],
  ["resnet44", "resnet44-014dd654.th"],
  ["resnet56", "resnet56-4bfd9763.th"],
] as const;

Deno.test("float16 and int8 CIFAR-10 ResNets: top-1 within 0.1 and 0.5 points of float32, ½ and ¼ the size", async () => {
  const dir = await Deno.makeTempDir();
  const calibration = `${dir}/calibration`;
  await writeCifarImages(calibration, (i) => (i < CALIBRATION ? imageName(i) : null));
  const accuracy = JSON.parse(
    await Deno.readTextFile(here("../testdata/fixtures/cifar/accuracy.json")),
  ).models as Record<string, { correct: number }>;
  try {
    for (const [name, checkpoint] of CHECKPOINTS) {
      const source = here(`../testdata/cifar10-resnet/${checkpoint}`);
      const files = {
        float32: `${dir}/${name}.safetensors`,
        float16: `${dir}/${name}.f16.safetensors`,
        int8: `${dir}/${name}.int8.safetensors`,
      };
      // The three conversions at once: each is a process of its own.
      await Promise.all(
        Object.entries(files).map(async ([dtype, out]) => {
          const extra = dtype === "int8" ? ["--calibrate", calibration] : [];
          const result = await cli("convert", source, "--out", out, "--dtype", dtype, ...extra);
          assertEquals(result.code, 0, result.stderr);
          if (dtype === "int8") {
            assertStringIncludes(result.stdout, "activations calibrated on 100 images");
          }
        }),
      );
      const size = async (path: string) => (await Deno.stat(path)).size;
      const half = await size(files.float16) / await size(files.float32);
      const quarter = await size(files.int8) / await size(files.float32);

      // float32 reproduces PyTorch on all 1000; float16 is measured on all 1000 too.
      const f32All = await correct(files.float32, 0);
      assertEquals(f32All.correct, accuracy[name].correct, name);
      const f16All = await correct(files.float16, 0);
      // int8 and its float32 baseline on the images calibration did not see.
      const f32Held = await correct(files.float32, CALIBRATION);
      const int8Held = await correct(files.int8, CALIBRATION);
      const points = (hits: number, total: number) => 100 * hits / total;
      const f16Drop = points(f32All.correct - f16All.correct, 1000);
      const int8Drop = points(f32Held.correct - int8Held.correct, 900);
      console.log(
        `${name}: float32 ${points(f32All.correct, 1000).toFixed(1)} %, float16 ` +
          `${points(f16All.correct, 1000).toFixed(1)} % (${half.toFixed(3)} of the size); ` +
          `images 100–999: float32 ${points(f32Held.correct, 900).toFixed(2)} %, int8 ` +
          `${points(int8Held.correct, 900).toFixed(2)} % (${quarter.toFixed(3)} of the size)`,
      );
      assert(Math.abs(f16Drop) <= 0.1, `${name}: float16 ${f16Drop} points from float32`);
      assert(Math.abs(int8Drop) <= 0.5, `${name}: int8 ${int8Drop} points from float32`);
      assertEquals(int8Held.engine, "onnxruntime (int8)");
      assertEquals(f16All.engine, "onnxruntime");
      assert(half > 0.49 && half < 0.51, `${name}: float16 file is ${half} of float32's`);
      assert(quarter > 0.25 && quarter < 0.28, `${name}: int8 file is ${quarter} of float32's`);
      const header = await readZooHeader(files.int8);
      assertEquals([header.dtype, header.calibration?.images], ["int8", 100]);
    }

    // The CLI picks the file's precision by itself.
    const int8 = `${dir}/resnet20.int8.safetensors`;
    const classify = await cli("classify", here("../testdata/images/cat.jpg"), "--model", int8);
    assertEquals(classify.code, 0, classify.stderr);
    assertStringIncludes(classify.stderr, "engine: onnxruntime (int8)");
    assertStringIncludes(classify.stdout, "1. cat");
    const bench = await cli(
      "bench",
      "--model",
      int8,
      "--engine",
      "onnxruntime",
      "--runs",
      "2",
      "--json",
    );
    assertEquals(bench.code, 0, bench.stderr);
    const row = JSON.parse(bench.stdout.trim());
    assertEquals([row.dtype, row.engine], ["int8", "onnxruntime (int8)"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a registry id may name a half-precision variant: the same download, stored in float16", async () => {
  const home = await Deno.makeTempDir();
  const previous = Deno.env.get("DENOZOO_HOME");
  Deno.env.set("DENOZOO_HOME", home);
  try {
    // A file dropped into the cache is verified against the registry's hash, not downloaded.
    const download = cachedPath(findWeights("cifar_resnet20.cifar10.f16"));
    await Deno.mkdir(download.slice(0, download.lastIndexOf("/")), { recursive: true });
    await Deno.copyFile(here("../testdata/cifar10-resnet/resnet20-12fca82f.th"), download);
    const half = await pullWeights("cifar_resnet20.cifar10.f16");
    const full = await pullWeights("cifar_resnet20.cifar10");
    assertEquals((await readZooHeader(half)).dtype, "float16");
    const ratio = (await Deno.stat(half)).size / (await Deno.stat(full)).size;
    assert(ratio > 0.49 && ratio < 0.51, `${ratio}`);
    const { correct: hits } = await correct("cifar_resnet20.cifar10.f16", 0);
    assertEquals(hits, 916); // float32: 915
  } finally {
    if (previous === undefined) Deno.env.delete("DENOZOO_HOME");
    else Deno.env.set("DENOZOO_HOME", previous);
    await Deno.remove(home, { recursive: true });
  }
});
