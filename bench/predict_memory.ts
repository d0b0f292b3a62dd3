/**
 * Peak memory of `predict` against the number of inputs: CIFAR ResNet-56 on 100, 1000 and 5000
 * CIFAR-10 test images (`tools/cifar_npy.ts`; past 1000 the images repeat) on each engine, each
 * run a fresh `deno run -A cli.ts predict` under GNU time, whose maximum resident set size is
 * the figure. Each output is also checked against torch's logits
 * (`testdata/fixtures/cifar/resnet56_logits.npy`, repeated as the inputs are).
 *
 * ```sh
 * deno run -A bench/predict_memory.ts                       # the README's table
 * deno run -A bench/predict_memory.ts onnxruntime 100,1000  # one engine, chosen sizes
 * ```
 *
 * Engines: `onnxruntime`, `tfjs-wasm`, `tfjs-cpu`, `tfjs-webgpu`. By default onnxruntime and
 * tfjs-wasm run all three sizes; tfjs-cpu and tfjs-webgpu (Mesa's software rasteriser here)
 * run 100 and 1000, as 5000 would take an hour. Needs `/usr/bin/time` (GNU time).
 *
 * @module
 */

import { readNpy } from "../formats/npy.ts";
import { writeCifarInput } from "../tools/cifar_npy.ts";

const root = new URL("../", import.meta.url).pathname;

const ENGINE_FLAGS: Record<string, string[]> = {
  "onnxruntime": ["--engine", "onnxruntime"],
  "tfjs-wasm": ["--engine", "tfjs", "--backend", "wasm"],
  "tfjs-cpu": ["--engine", "tfjs", "--backend", "cpu"],
  "tfjs-webgpu": ["--engine", "tfjs", "--backend", "webgpu"],
};

const DEFAULT_SIZES: Record<string, number[]> = {
  "onnxruntime": [100, 1000, 5000],
  "tfjs-wasm": [100, 1000, 5000],
  "tfjs-cpu": [100, 1000],
  "tfjs-webgpu": [100, 1000],
};

/** Largest |got − torch| over the largest |torch|, torch's 1000 rows repeated as the inputs are. */
function errorAgainstTorch(got: Float32Array, torch: Float32Array): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < got.length; i++) {
    const expected = torch[i % torch.length];
    diff = Math.max(diff, Math.abs(got[i] - expected));
    scale = Math.max(scale, Math.abs(expected));
  }
  return diff / scale;
}

if (import.meta.main) {
  const [only, sizes] = Deno.args;
  const engines = only ? [only] : Object.keys(ENGINE_FLAGS);
  const dir = await Deno.makeTempDir();
  const torch = readNpy(
    await Deno.readFile(`${root}testdata/fixtures/cifar/resnet56_logits.npy`),
    "resnet56_logits.npy",
  ).data as Float32Array;
  console.log("| engine | images | wall time | peak RSS | relative error vs torch |");
  console.log("| --- | ---: | ---: | ---: | ---: |");
  try {
    for (const engine of engines) {
      for (const rows of sizes ? sizes.split(",").map(Number) : DEFAULT_SIZES[engine]) {
        const input = `${dir}/x${rows}.npy`;
        await Deno.stat(input).catch(() => writeCifarInput(input, rows));
        const output = `${dir}/y.npy`;
        const { code, stderr } = await new Deno.Command("/usr/bin/time", {
          args: [
            "-f",
            "%e %M",
            Deno.execPath(),
            "run",
            "-A",
            `${root}cli.ts`,
            "predict",
            "--weights",
            `${root}testdata/cifar10-resnet/resnet56-4bfd9763.th`,
            "--input",
            input,
            "--input-layout",
            "nchw",
            "--output",
            output,
            ...ENGINE_FLAGS[engine],
          ],
          stdout: "null",
          stderr: "piped",
        }).output();
        const lines = new TextDecoder().decode(stderr).trim().split("\n");
        if (code !== 0) throw new Error(`${engine} × ${rows} failed:\n${lines.join("\n")}`);
        const [seconds, kib] = lines.at(-1)!.split(" ").map(Number);
        const logits = readNpy(await Deno.readFile(output), output).data as Float32Array;
        const error = errorAgainstTorch(logits, torch);
        console.log(
          `| ${lines.find((l) => l.startsWith("engine: "))!.slice(8)} | ${rows} | ${seconds} s | ` +
            `${(kib / 1024).toFixed(0)} MiB | ${error.toExponential(1)} |`,
        );
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
