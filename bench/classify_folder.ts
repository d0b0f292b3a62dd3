/**
 * The job users run most, against what they would run instead, in the same run: classify the
 * 1000 ImageNet-style JPEGs of `tools/imagenet_style_folder.ts` with ResNet-50 — PyTorch eager +
 * torchvision's transforms on PIL + a DataLoader (`bench/torch_classify.py`), then the zoo's
 * `classify` with the float32 and the int8 file — round after round, interleaved, each a process
 * of its own from start to finish (start-up and model loading included on both sides). Then
 * PIL's decoding per image, and one 8000×8000 and one 12 MP JPEG classified, with peak RSS.
 * Prepare as `bench_files.ts` says, then
 *
 * ```sh
 * deno run -A bench/classify_folder.ts [ROUNDS]     # default 2
 * ```
 *
 * Every run prints its own line; the summary gives each side's images per second (1000 / wall
 * seconds) and the zoo's ratio to torch in the same round. Without torch, only the zoo runs.
 *
 * @module
 */

import {
  BENCH,
  cli,
  ensureZooFiles,
  FLOAT32,
  FOLDER,
  hasTorch,
  INT8,
  prepared,
  PTH,
  timed,
} from "./bench_files.ts";

if (!prepared) {
  console.log("not prepared: see bench/bench_files.ts (fullsize.py, imagenet_style_folder.ts)");
  Deno.exit(0);
}
await ensureZooFiles();
const root = new URL("../", import.meta.url).pathname;
const rounds = Number(Deno.args[0] ?? 2);
const classify = (model: string, ...inputs: string[]) =>
  cli(
    "classify",
    ...inputs,
    "--model",
    model,
    "--preprocess",
    "TORCHVISION_V2",
    "--batch",
    "16",
    "--json",
  );
const load = await Deno.readTextFile("/proc/loadavg").catch(() => "?");
console.log(`load average before: ${load.split(" ").slice(0, 3).join(" ")}`);

const rates: Record<string, number[]> = { torch: [], float32: [], int8: [] };
for (let round = 1; round <= rounds; round++) {
  const runs: [string, string, string[]][] = [
    ...(hasTorch
      ? [["torch", "/usr/bin/python3", [`${root}bench/torch_classify.py`, FOLDER, PTH]]] as [
        string,
        string,
        string[],
      ][]
      : []),
    ["float32", Deno.execPath(), classify(FLOAT32, FOLDER)],
    ["int8", Deno.execPath(), classify(INT8, FOLDER)],
  ];
  for (const [label, command, args] of runs) {
    const run = await timed(label, command, args);
    rates[label].push(1000 / run.seconds);
    const steady = label === "torch" ? `; its own count, loading excluded: ${run.last}` : "";
    console.log(
      `round ${round} ${label}: ${run.seconds.toFixed(1)} s, ${(1000 / run.seconds).toFixed(2)} ` +
        `images/s, peak RSS ${run.peakMiB.toFixed(0)} MiB${steady}`,
    );
  }
  if (hasTorch) {
    const ratio = (label: string) => (rates[label][round - 1] / rates.torch[round - 1]).toFixed(2);
    console.log(`round ${round}: float32 ${ratio("float32")}× torch, int8 ${ratio("int8")}× torch`);
  }
}
const range = (values: number[]) =>
  values.length ? `${Math.min(...values).toFixed(2)}–${Math.max(...values).toFixed(2)}` : "—";
console.log(
  `images/s over ${rounds} rounds: torch ${range(rates.torch)}, zoo float32 ${
    range(rates.float32)
  }, ` +
    `zoo int8 ${range(rates.int8)}`,
);

if (hasTorch) {
  const pil = await timed("PIL", "/usr/bin/python3", [
    `${root}bench/torch_classify.py`,
    FOLDER,
    "--decode-only",
  ]);
  console.log(`PIL open + convert + Resize(232) + CenterCrop(224), one thread: ${pil.last}`);
}
// A registry model runs from the ONNX export cached beside its zoo file, which onnxruntime maps
// from disk: the ResNet-50 stands in for resnet50.tv2_in1k in a cache of its own.
const home = `${BENCH}/home`;
await Deno.mkdir(`${home}/models`, { recursive: true });
await Deno.copyFile(FLOAT32, `${home}/models/resnet50.tv2_in1k.safetensors`);
const cached = { DENOZOO_HOME: home, DENOZOO_OFFLINE: "1" };
await timed(
  "export",
  Deno.execPath(),
  cli("classify", `${root}testdata/images/cat.jpg`, "--model", "resnet50.tv2_in1k"),
  cached,
);
const models = [
  ["bundled ResNet-20", [], {}],
  ["ResNet-50 float32 file", ["--model", FLOAT32], {}],
  ["ResNet-50 as registry id, cached", ["--model", "resnet50.tv2_in1k"], cached],
] as const;
for (const photo of ["big_8000.jpg", "phone_12mp.jpg"]) {
  for (const [label, model, env] of models) {
    const args = cli("classify", `${BENCH}/${photo}`, ...model, "--top", "1");
    const run = await timed(photo, Deno.execPath(), args, env);
    console.log(
      `classify ${photo} (${label}), whole process: ${run.seconds.toFixed(2)} s, ` +
        `peak RSS ${run.peakMiB.toFixed(0)} MiB`,
    );
  }
}
