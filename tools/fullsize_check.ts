/**
 * Full-size parity check (not part of `deno test`: the files are 50 MB to 270 MB each). Make the
 * inputs with Debian's torch, then compare every net in the directory (each `NAME_logits.npy`
 * with its `NAME_input.npy` and whichever of `NAME.onnx`, `NAME_bn.onnx`, `NAME_op11.onnx`,
 * `NAME.pth` exist):
 *
 * ```sh
 * /usr/bin/python3 testdata/fixtures/fullsize.py /tmp/fullsize      # torchvision ResNet-18/50
 * deno run -A tools/fullsize_check.ts /tmp/fullsize
 * /usr/bin/python3 testdata/fixtures/family/generate.py --fullsize /tmp/family
 * deno run -A tools/fullsize_check.ts /tmp/family    # ResNeXt, Wide, ResNet-D, SE, ECA, BiT
 * ```
 *
 * Each line names the file, the architecture the importer detected, the import time and the
 * error relative to torch's largest logit; the exit code is 1 when any file misses 1e-4.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import { importFile } from "../convert/import.ts";
import { readNpy } from "../formats/npy.ts";
import { createModel } from "../runtime/model.ts";
import { useBackend } from "../runtime/backend.ts";

const dir = Deno.args[0] ?? "/tmp/fullsize";
const names = [...Deno.readDirSync(dir)].map((e) => e.name)
  .filter((n) => n.endsWith("_logits.npy")).map((n) => n.slice(0, -"_logits.npy".length)).sort();
console.log(`backend: ${await useBackend("wasm")}`);
let failed = false;
for (const name of names) {
  const input = readNpy(await Deno.readFile(`${dir}/${name}_input.npy`), "input");
  const expected = readNpy(await Deno.readFile(`${dir}/${name}_logits.npy`), "logits")
    .data as Float32Array;
  for (const suffix of [".onnx", "_bn.onnx", "_op11.onnx", ".pth"]) {
    const path = `${dir}/${name}${suffix}`;
    if (!(await Deno.stat(path).catch(() => null))) continue;
    const started = performance.now();
    const imported = await importFile(path);
    // Kernels are transposed on first read: time that too.
    for (const weight of imported.weights.values()) void weight.data;
    const importMs = performance.now() - started;
    const model = createModel(imported.spec, {
      weights: imported.weights,
      dataFormat: "channels_first",
    });
    const y = model.predict(
      tf.tensor4d(input.data as Float32Array, input.shape as [number, number, number, number]),
    );
    const got = (await y.data()) as Float32Array;
    let diff = 0;
    let scale = 0;
    for (let i = 0; i < got.length; i++) {
      diff = Math.max(diff, Math.abs(got[i] - expected[i]));
      scale = Math.max(scale, Math.abs(expected[i]));
    }
    const top = (a: Float32Array) => a.indexOf(Math.max(...a));
    const relative = diff / scale;
    failed ||= !(relative < 1e-4);
    console.log(
      `${name}${suffix}: detected ${imported.spec.name} (${imported.format}), import ${
        importMs.toFixed(0)
      } ms, max abs diff ${diff.toExponential(2)}, relative ${relative.toExponential(2)}, ` +
        `top-1 ${top(got)} vs torch ${top(expected)}`,
    );
    y.dispose();
    model.dispose();
  }
}
if (failed) Deno.exit(1);
