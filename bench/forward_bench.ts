/**
 * Forward-pass and loading benchmarks: ResNet-50 (batch 1, 224×224) on tfjs wasm (one thread
 * per core) and on onnxruntime, ResNet-20 for CIFAR (batch 1, 32×32) on tfjs cpu, tfjs wasm,
 * tfjs webgpu (where an adapter exists) and onnxruntime, reading a ResNet-50 zoo safetensors file, importing a 100 MB ONNX file, and
 * preprocessing. Run with `deno bench -A bench/`.
 *
 * @module
 */

import { defaultInputSize } from "../arch/spec.ts";
import * as tf from "@tensorflow/tfjs-core";
import { useBackend, webgpuAvailable } from "../runtime/backend.ts";
import { createModel, type ZooModel } from "../runtime/model.ts";
import { createOrtSession, ortAvailable } from "../runtime/ort.ts";
import { exportOnnx } from "../convert/onnx_export.ts";
import { readZooWeights, writeZooWeights } from "../convert/zoofile.ts";
import { importBytes, importFile } from "../convert/import.ts";
import { readWholeFile } from "../formats/files.ts";
import { toZooFile } from "../pipelines/provenance.ts";
import { readSource } from "../hub/source.ts";
import { writeAtomically } from "../formats/files.ts";
import { decodeImage } from "../vision/decode.ts";
import { preprocessImages } from "../vision/preprocess.ts";
import { TORCHVISION_V1 } from "../arch/preprocess.ts";

type Backend = "cpu" | "wasm" | "webgpu";

/** Every run uses the threaded wasm build: switching builds would drop the tensors on the other. */
const backendOptions = { wasmThreads: Math.min(navigator.hardwareConcurrency, 8) };

/** A model compiled on one tfjs backend (weights live where they were uploaded). */
async function tfjsModel(backend: Backend, name: string): Promise<ZooModel> {
  await useBackend(backend, backendOptions);
  const model = createModel(name, { seed: 1 });
  const size = defaultInputSize(model.spec);
  tf.dispose(model.predict(tf.zeros([1, size, size, 3]))); // compiles the graph
  return model;
}

/** One tfjs forward pass of a batch of one image, waiting for the logits. */
function tfjsBench(name: string, backend: Backend, model: ZooModel, n: number): void {
  const size = defaultInputSize(model.spec);
  Deno.bench({
    name: `${name} batch 1, tfjs ${backend}${
      backend === "wasm" ? ` (${backendOptions.wasmThreads} threads)` : ""
    }`,
    group: name,
    n,
    warmup: 1,
    async fn(b) {
      await useBackend(backend, backendOptions);
      const x = tf.randomUniform([1, size, size, 3]) as tf.Tensor4D;
      b.start();
      const y = model.predict(x);
      await y.data();
      b.end();
      tf.dispose([x, y]);
    },
  });
}

/** One onnxruntime forward pass (every core) of the same model, exported NCHW. */
async function ortBench(name: string, model: ZooModel, n: number): Promise<void> {
  const engine = await createOrtSession(await exportOnnx(model.plan, model.weights));
  const size = defaultInputSize(model.spec);
  const x = new Float32Array(3 * size * size).map(() => Math.random());
  Deno.bench({
    name: `${name} batch 1, onnxruntime`,
    group: name,
    n,
    warmup: 2,
    async fn() {
      await engine.run(x, [1, 3, size, size]);
    },
  });
}

const ort = await ortAvailable();

const resnet50 = await tfjsModel("wasm", "resnet50");
tfjsBench("resnet50", "wasm", resnet50, 8);
if (ort) await ortBench("resnet50", resnet50, 20);

const cifarCpu = await tfjsModel("cpu", "cifar_resnet20");
tfjsBench("cifar_resnet20", "cpu", cifarCpu, 5);
const cifarWasm = await tfjsModel("wasm", "cifar_resnet20");
tfjsBench("cifar_resnet20", "wasm", cifarWasm, 50);
if (ort) await ortBench("cifar_resnet20", cifarWasm, 200);
// WebGPU wherever an adapter exists; here that is Mesa's software rasteriser (llvmpipe).
if (await webgpuAvailable()) {
  const cifarWebgpu = await tfjsModel("webgpu", "cifar_resnet20");
  tfjsBench("cifar_resnet20", "webgpu", cifarWebgpu, 20);
}

const directory = await Deno.makeTempDir({ prefix: "denozoo_bench_" });
const zooFile = `${directory}/resnet50.safetensors`;
await Deno.writeFile(zooFile, writeZooWeights(resnet50.spec, resnet50.weights));
globalThis.addEventListener("unload", () => Deno.removeSync(directory, { recursive: true }));

Deno.bench({
  name: "resnet50 zoo safetensors: read + parse",
  n: 10,
  warmup: 1,
  async fn() {
    readZooWeights(await readWholeFile(zooFile), zooFile);
  },
});

// Importing a ~100 MB ResNet-50 ONNX file into the zoo, against merely reading its bytes.
const onnxFile = `${directory}/resnet50.onnx`;
await Deno.writeFile(onnxFile, await exportOnnx(resnet50.plan, resnet50.weights));
Deno.bench({
  name: "resnet50 ONNX (100 MB): read bytes only (Deno.readFile)",
  group: "onnx import",
  baseline: true,
  n: 10,
  async fn() {
    await Deno.readFile(onnxFile);
  },
});
Deno.bench({
  name: "resnet50 ONNX (100 MB): read bytes only (readWholeFile, as the importers do)",
  group: "onnx import",
  n: 10,
  async fn() {
    await readWholeFile(onnxFile);
  },
});
Deno.bench({
  name: "resnet50 ONNX (100 MB): import to zoo spec + weights, every kernel transposed",
  group: "onnx import",
  n: 10,
  async fn() {
    // Kernels are transposed on first read: read them all, as building a model does.
    for (const weight of (await importFile(onnxFile)).weights.values()) void weight.data;
  },
});
Deno.bench({
  name: "resnet50 ONNX (100 MB): import to a written zoo file (as `cli.ts convert`)",
  group: "onnx import",
  n: 10,
  async fn() {
    const { bytes, sha256 } = await readSource(onnxFile);
    const imported = await importBytes(bytes, onnxFile);
    await writeAtomically(zooFile, await toZooFile(bytes, onnxFile, imported, { sha256 }));
  },
});
const zooBytes = await Deno.readFile(zooFile);
Deno.bench({
  name: "resnet50 zoo file (100 MB): write only",
  group: "onnx import",
  n: 10,
  async fn() {
    await writeAtomically(`${directory}/written.safetensors`, zooBytes);
  },
});

// Preprocessing of a 1-megapixel image (torchvision resize/crop as Pillow, normalise), and decoding.
const photo = await Deno.readFile(
  new URL("../testdata/images/grace_hopper.jpg", import.meta.url),
);
const megapixel = await decodeImage(photo, "grace_hopper.jpg");
const large = {
  width: 1024,
  height: 1024,
  data: new Uint8Array(1024 * 1024 * 3).map((_, i) => megapixel.data[i % megapixel.data.length]),
};
Deno.bench({
  name:
    "preprocess 1 MP image (resize 256, crop 224, normalise: Pillow-exact in JS, tensor on wasm)",
  n: 20,
  async fn() {
    await useBackend("wasm", backendOptions);
    const x = preprocessImages([large], TORCHVISION_V1);
    await x.data();
    x.dispose();
  },
});
Deno.bench({
  name: "decode a 517×606 JPEG",
  n: 20,
  async fn() {
    await decodeImage(photo, "grace_hopper.jpg");
  },
});
