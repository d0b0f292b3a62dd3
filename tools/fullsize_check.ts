/**
 * Full-size parity check (not part of `deno test`: the files are ~150 MB). Make the
 * inputs with Debian's torch, then compare:
 *
 * ```sh
 * /usr/bin/python3 testdata/fixtures/fullsize.py /tmp/fullsize
 * deno run -A tools/fullsize_check.ts /tmp/fullsize
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import { importFile } from "../convert/import.ts";
import { readNpy } from "../formats/npy.ts";
import { createModel } from "../runtime/model.ts";
import { useBackend } from "../runtime/backend.ts";

const dir = Deno.args[0] ?? "/tmp/fullsize";
console.log(`backend: ${await useBackend("wasm")}`);
for (const name of ["resnet18", "resnet50"]) {
  const input = readNpy(await Deno.readFile(`${dir}/${name}_input.npy`), "input");
  const expected = readNpy(await Deno.readFile(`${dir}/${name}_logits.npy`), "logits")
    .data as Float32Array;
  for (const ext of ["onnx", "pth"]) {
    const started = performance.now();
    const imported = await importFile(`${dir}/${name}.${ext}`);
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
    console.log(
      `${name}.${ext}: detected ${imported.spec.name} (${imported.format}), import ${
        importMs.toFixed(0)
      } ms, ` +
        `max abs diff ${diff.toExponential(2)}, relative ${(diff / scale).toExponential(2)}, ` +
        `top-1 ${top(got)} vs torch ${top(expected)}`,
    );
    model.dispose();
  }
}
