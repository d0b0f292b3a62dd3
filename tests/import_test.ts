import * as tf from "@tensorflow/tfjs-core";
import { assert, assertEquals, assertRejects } from "@std/assert";
import { importBytes, importFile } from "../convert/import.ts";
import { readZooWeights, writeZooWeights } from "../convert/zoofile.ts";
import { ZooFormatError } from "../arch/errors.ts";
import { createModel } from "../runtime/model.ts";
import { getSpec } from "../arch/presets.ts";
import { useBackend } from "../runtime/backend.ts";
import { decodeImage } from "../vision/decode.ts";
import { splitImageRows } from "../vision/tiles.ts";
import { preprocessImages } from "../vision/preprocess.ts";
import { CIFAR10_TORCH } from "../arch/preprocess.ts";
import { npy, relativeError } from "./helpers.ts";

await useBackend("wasm");

const here = (path: string) => new URL(path, import.meta.url).pathname;
const nets = (file: string) => here(`../testdata/fixtures/nets/${file}`);

async function runImported(
  path: string,
  input: string,
  dataFormat: "channels_first" | "channels_last",
) {
  const imported = await importFile(path);
  const x = await npy(input);
  const model = createModel(imported.spec, { weights: imported.weights, dataFormat });
  const y = model.predict(tf.tensor4d(x.data, x.shape as [number, number, number, number]));
  const logits = (await y.data()) as Float32Array;
  model.dispose();
  y.dispose();
  return { imported, logits };
}

const TORCH_FILES = ["", "_bn", "_op9"].map((s) => [`${s}.onnx`, "onnx"]).concat([
  [".pth", "pytorch-zip"],
  ["_legacy.pth", "pytorch-legacy"],
]);

for (const net of ["tv_basic", "tv_bottleneck"]) {
  Deno.test(`${net}: every torch export reproduces torch's logits within 1e-4`, async () => {
    const expected = await npy(nets(`${net}_logits.npy`));
    for (const [suffix, format] of TORCH_FILES) {
      const { imported, logits } = await runImported(
        nets(net + suffix),
        nets(`${net}_input.npy`),
        "channels_first",
      );
      assertEquals(imported.format, format);
      assertEquals(imported.spec.block, net === "tv_basic" ? "basic" : "bottleneck");
      assertEquals(imported.spec.naming.id, "torchvision");
      assertEquals(imported.spec.strideConv, "3x3");
      const error = relativeError(logits, expected.data);
      assert(error < 1e-4, `${net}${suffix}: relative error ${error}`);
    }
  });
}

Deno.test("tv_basic at a non-square size reproduces torch", async () => {
  const expected = await npy(nets("tv_basic_logits_96.npy"));
  const { logits } = await runImported(
    nets("tv_basic.onnx"),
    nets("tv_basic_input_96.npy"),
    "channels_first",
  );
  assert(relativeError(logits, expected.data) < 1e-4);
});

for (const [net, preact] of [["keras_v1", false], ["keras_v2", true]] as const) {
  Deno.test(`${net}: Keras weights-only HDF5 reproduces the Keras-semantics logits`, async () => {
    const expected = await npy(nets(`${net}_logits.npy`));
    const { imported, logits } = await runImported(
      nets(`${net}.h5`),
      nets(`${net}_input.npy`),
      "channels_last",
    );
    assertEquals(imported.format, "keras-h5");
    assertEquals(imported.spec.preact, preact);
    assertEquals(imported.spec.naming.id, "keras");
    assertEquals(imported.spec.convBias, preact ? "unnormalized" : "all");
    const error = relativeError(logits, expected.data);
    assert(error < 1e-4, `${net}: relative error ${error}`);
  });
}

const CIFAR = [
  ["resnet20-12fca82f.th", "cifar_resnet20", 915],
  ["resnet32-d509ac18.th", "cifar_resnet32", 928],
  ["resnet44-014dd654.th", "cifar_resnet44", 933],
  ["resnet56-4bfd9763.th", "cifar_resnet56", 926],
] as const;

Deno.test("the shared CIFAR-10 checkpoints reproduce their top-1 on the 1000 test images", async () => {
  const strip = await decodeImage(
    await Deno.readFile(here("../testdata/cifar10-test/test_1000.png")),
    "test_1000.png",
  );
  const labels: number[] = JSON.parse(
    await Deno.readTextFile(here("../testdata/cifar10-test/test_1000_labels.json")),
  );
  const x = preprocessImages(splitImageRows(strip, 32, 32), CIFAR10_TORCH);
  const reference = await npy(here("../testdata/fixtures/cifar/resnet20_logits.npy"));
  for (const [file, name, correct] of CIFAR) {
    const imported = await importFile(here(`../testdata/cifar10-resnet/${file}`));
    assertEquals(imported.spec.name, name);
    assertEquals(imported.format, "pytorch-legacy");
    const model = createModel(imported.spec, { weights: imported.weights });
    // Batches of 250 keep the wasm heap small.
    const logits = tf.concat(
      [0, 250, 500, 750].map((start) => model.predict(tf.slice(x, start, 250))),
    );
    const predictions = await tf.argMax(logits, 1).data();
    const hits = labels.filter((label, i) => predictions[i] === label).length;
    assertEquals(hits, correct, `${name}: ${hits / 10}% top-1`);
    if (name === "cifar_resnet20") {
      const error = relativeError((await logits.data()) as Float32Array, reference.data);
      assert(error < 1e-5, `resnet20 logits: relative error ${error}`);
    }
    logits.dispose();
    model.dispose();
  }
  x.dispose();
});

Deno.test("the zoo safetensors file round-trips spec, weights and provenance", async () => {
  const imported = await importFile(here("../testdata/cifar10-resnet/resnet20-12fca82f.th"));
  const bytes = writeZooWeights(imported.spec, imported.weights, {
    labels: "cifar10",
    preprocess: CIFAR10_TORCH,
    source: "resnet20-12fca82f.th",
    sourceFormat: imported.format,
  });
  const file = readZooWeights(bytes, "resnet20.safetensors");
  assertEquals(file.spec, imported.spec);
  assertEquals(file.labels, "cifar10");
  assertEquals(file.preprocess, CIFAR10_TORCH);
  assertEquals(
    file.weights.get("layer3.2.bn2/moving_variance")!.data,
    imported.weights.get("layer3.2.bn2/moving_variance")!.data,
  );
  const again = await importBytes(bytes, "resnet20.safetensors");
  assertEquals(again.format, "zoo-safetensors");
  assertEquals(again.spec.name, "cifar_resnet20");
});

Deno.test("--arch forces a spec and names the first tensor that does not fit", async () => {
  const bytes = await Deno.readFile(here("../testdata/cifar10-resnet/resnet20-12fca82f.th"));
  const forced = await importBytes(bytes, "resnet20.th", { arch: getSpec("cifar_resnet20") });
  assertEquals(forced.spec.name, "cifar_resnet20");
  const error = await assertRejects(
    () => importBytes(bytes, "resnet20.th", { arch: getSpec("cifar_resnet32") }),
    ZooFormatError,
  );
  assert(error.message.startsWith("resnet20.th: "), error.message);
  assert(error.message.includes("cifar_resnet32"), error.message);
  const shapes = await assertRejects(
    () => importBytes(bytes, "resnet20.th", { arch: getSpec("resnet18") }),
    ZooFormatError,
  );
  assert(shapes.message.includes("resnet18"), shapes.message);
});

Deno.test("a network outside the zoo's specs is refused, naming the layer", async () => {
  // MLPerf Tiny's ResNet-8: projections without BatchNorm, not a zoo architecture.
  const path = here("../testdata/keras-mlperf-tiny/resnet8_cifar10.h5");
  const error = await assertRejects(
    () => importBytes(Deno.readFileSync(path), "resnet8_cifar10.h5"),
    ZooFormatError,
  );
  assert(error.message.includes("conv2d_3"), error.message);
});
