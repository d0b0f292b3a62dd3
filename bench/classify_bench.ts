/**
 * The image path and the int8 engine, in process: decoding an ImageNet-style JPEG to a model
 * input, ResNet-50 int8 against float32 on onnxruntime at batch 1, and classifying a 12 MP and an
 * 8000×8000 photo with a loaded model. Prepare as `bench_files.ts` says, then
 *
 * ```sh
 * deno bench -A bench/classify_bench.ts
 * ```
 *
 * (Whole folders against PyTorch, PIL's decoding and peak memory are processes of their own:
 * `bench/classify_folder.ts`.) Without the prepared files, every bench here is skipped.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import { TORCHVISION_V2 } from "../arch/preprocess.ts";
import { useBackend } from "../runtime/backend.ts";
import { createModel } from "../runtime/model.ts";
import { createEngine, type Engine } from "../runtime/engine.ts";
import { readZooWeights } from "../convert/zoofile.ts";
import { decodeForModel } from "../vision/decode.ts";
import { loadClassifier } from "../pipelines/load.ts";
import { classifyFiles } from "../pipelines/classify.ts";
import { BENCH, ensureZooFiles, FLOAT32, FOLDER, INT8, prepared } from "./bench_files.ts";

if (prepared) await ensureZooFiles();

const files = prepared
  ? [...Deno.readDirSync(FOLDER)].map((entry) => `${FOLDER}/${entry.name}`).sort().slice(0, 100)
  : [];

Deno.bench({
  name: "decodeForModel (libvips decode, Pillow-exact resample), one at a time (100 files)",
  group: "decode + resize 232 + crop 224 (PIL: see bench/classify_folder.ts)",
  n: 3,
  warmup: 1,
  ignore: !prepared,
  async fn() {
    for (const file of files) await decodeForModel(await Deno.readFile(file), file, TORCHVISION_V2);
  },
});

/** ResNet-50 on onnxruntime from a zoo file (float32, or int8 with its calibration). */
async function engineOf(path: string): Promise<Engine> {
  const file = readZooWeights(await Deno.readFile(path), path);
  const model = createModel(file.spec, { weights: file.weights });
  return await createEngine(model, "onnxruntime", { calibration: file.calibration });
}

const engines = prepared
  ? { float32: await engineOf(FLOAT32), int8: await engineOf(INT8) }
  : undefined;
if (engines) await useBackend("cpu");
const image = engines ? tf.randomUniform([1, 224, 224, 3], -2, 2, "float32", 1) : undefined;

for (const dtype of ["float32", "int8"] as const) {
  Deno.bench({
    name: `ResNet-50 ${dtype}, batch 1`,
    group: "onnxruntime, 2 threads",
    baseline: dtype === "float32",
    warmup: 3,
    n: 20,
    ignore: !engines,
    async fn() {
      const logits = await engines![dtype].predict(image as tf.Tensor4D);
      await logits.data();
      logits.dispose();
    },
  });
}

const classifiers = prepared
  ? { "bundled ResNet-20": await loadClassifier(), "ResNet-50": await loadClassifier(FLOAT32) }
  : undefined;

for (const label of ["bundled ResNet-20", "ResNet-50"] as const) {
  for (const photo of ["big_8000.jpg", "phone_12mp.jpg"]) {
    Deno.bench({
      name: `classifyFiles ${photo} (${label} loaded: decode, resample, forward pass)`,
      group: "large photos",
      n: 5,
      warmup: 1,
      ignore: !classifiers,
      async fn() {
        await classifyFiles(classifiers![label], [`${BENCH}/${photo}`], { top: 1 });
      },
    });
  }
}
