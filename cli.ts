/**
 * The denozoo command line.
 *
 * ```sh
 * deno run -A cli.ts classify IMAGE… [--model ID|FILE] [--top 5] [--json] [--backend auto|webgpu|wasm|cpu] [--batch N]
 * deno run -A cli.ts convert SRC --out FILE.safetensors [--arch auto|NAME] [--verify]
 * deno run -A cli.ts predict --weights FILE --input X.npy [--input-layout nchw|nhwc] --output Y.npy
 * deno run -A cli.ts list [--json]
 * deno run -A cli.ts info ID
 * deno run -A cli.ts pull ID [--verify]
 * ```
 *
 * @example
 * ```sh
 * deno run -A jsr:@denozoo/zoo/cli classify cat.png
 * ```
 *
 * @module
 */

import { defaultInputSize } from "./arch/spec.ts";
import * as tf from "@tensorflow/tfjs-core";
import { parseArgs } from "@std/cli/parse-args";
import {
  type BackendChoice,
  hardwareGpuAvailable,
  useBackend,
  wasmThreadCount,
} from "./runtime/backend.ts";
import { classifyFiles, type ImageResult } from "./pipelines/classify.ts";
import type { EngineChoice } from "./runtime/engine.ts";
import { loadClassifier, pullWeights, toZooFile } from "./pipelines/load.ts";
import { loadGraphModel } from "./graph/graph_model.ts";
import { loadKerasModel } from "./graph/keras/load.ts";
import { saveLayersModel } from "./graph/keras/save.ts";
import { readOnnx } from "./formats/onnx.ts";
import { readSource } from "./hub/source.ts";
import { writeAtomically } from "./formats/files.ts";
import { expandImageArgs } from "./vision/image.ts";
import { PREPROCESS_PRESETS } from "./arch/preprocess.ts";
import type { LabelSet } from "./arch/labels.ts";
import { createModel, type ZooModel } from "./runtime/model.ts";
import { getSpec, PRESETS } from "./arch/presets.ts";
import { createEngine, ortEngine, prefersOrt } from "./runtime/engine.ts";
import { createOrtSession, ortAvailable } from "./runtime/ort.ts";
import { measure } from "./runtime/bench.ts";
import { countParams } from "./arch/plan.ts";
import { findWeights, REGISTRY, type WeightsEntry } from "./hub/registry.ts";
import { verifyCached } from "./hub/cache.ts";
import { importBytes, type ImportedModel, importFile } from "./convert/import.ts";
import { detectFormat } from "./formats/detect.ts";
import { readNpy, writeNpy } from "./formats/npy.ts";
import { readWholeFile } from "./formats/files.ts";
import { readZooWeights } from "./convert/zoofile.ts";
import { ZooFormatError } from "./arch/errors.ts";
import { NotZooResNetError } from "./arch/errors.ts";

const USAGE = `denozoo: pretrained ResNets for Deno

Usage:
  cli.ts classify IMAGE… [--model ID|FILE] [--top 5] [--json] [--batch 16]
                 [--engine auto|tfjs|onnxruntime] [--backend auto|webgpu|wasm|cpu]
                 [--preprocess TORCHVISION_V1|TORCHVISION_V2|KERAS_CAFFE|KERAS_TF|CIFAR10_TORCH|CIFAR10_RAW]
                 [--labels imagenet|cifar10]
  cli.ts convert SRC --out FILE.safetensors|FILE.onnx|FOLDER [--arch auto|NAME] [--verify]
  cli.ts predict --weights FILE --input X.npy --output Y.npy [--input-layout nchw|nhwc] [--backend …]
  cli.ts list [--json]
  cli.ts info ID
  cli.ts pull ID [--verify]
  cli.ts bench --model NAME|ID|FILE [--engine tfjs|onnxruntime|auto|all] [--backend …] [--batch 1] [--runs 10] [--json]

--threads N sets the wasm backend's threads (1 to 8; default one per core when the model runs
on tfjs).

IMAGE may be a file, a directory or a glob. Without --model, classify uses the bundled
CIFAR-10 ResNet-20. Weights files: .safetensors (zoo), .onnx, .pth/.pt/.th, Keras .h5/.keras, model.json.`;

type Args = ReturnType<typeof parse>;

function parse(argv: string[]) {
  return parseArgs(argv, {
    string: [
      "model",
      "top",
      "backend",
      "batch",
      "out",
      "arch",
      "weights",
      "input",
      "output",
      "input-layout",
      "threads",
    ],
    boolean: ["json", "verify", "help"],
    alias: { h: "help", o: "out", m: "model" },
  });
}

/** A user's mistake: printed without a stack trace. */
class UsageError extends Error {}

function option(args: Args, name: string): string {
  const value = args[name as keyof Args];
  if (typeof value !== "string" || value === "") {
    throw new UsageError(`missing --${name} (see --help)`);
  }
  return value;
}

function positiveInt(args: Args, name: string, fallback: number): number {
  const raw = args[name as keyof Args];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) {
    throw new UsageError(`--${name} must be a positive integer, got '${raw}'`);
  }
  return n;
}

/**
 * Activates `--backend`. Without it, a hardware GPU gets WebGPU and everything else wasm:
 * a software WebGPU adapter (llvmpipe) is several times slower than wasm. `--threads` sets
 * the wasm threads; by default a model that runs on tfjs gets one per core, while tfjs work
 * around onnxruntime (preprocessing) stays on the single-threaded build, which starts faster.
 */
async function backend(args: Args, modelRunsOnTfjs: boolean): Promise<string> {
  const choice =
    (args.backend ?? ((await hardwareGpuAvailable()) ? "webgpu" : "wasm")) as BackendChoice;
  if (!["auto", "webgpu", "wasm", "cpu"].includes(choice)) {
    throw new UsageError(`--backend must be auto, webgpu, wasm or cpu, got '${choice}'`);
  }
  const threads = positiveInt(
    args,
    "threads",
    modelRunsOnTfjs ? Math.min(navigator.hardwareConcurrency, 8) : 1,
  );
  if (threads > 8) throw new UsageError(`--threads must be from 1 to 8, got ${threads}`);
  return await useBackend(choice, { wasmThreads: threads });
}

/** `--engine`, defaulting to tfjs when only `--backend` was given. */
function engine(args: Args): EngineChoice {
  const choice = args.engine ?? (args.backend ? "tfjs" : "auto");
  if (!["auto", "tfjs", "onnxruntime"].includes(choice)) {
    throw new UsageError(`--engine must be auto, tfjs or onnxruntime, got '${choice}'`);
  }
  return choice as EngineChoice;
}

function formatTable(results: ImageResult[], model: string): string {
  const lines: string[] = [];
  for (const { image, predictions } of results) {
    lines.push(`${image}  (${model})`);
    const width = Math.max(...predictions.map((p) => p.label.length));
    predictions.forEach((p, rank) => {
      const percent = (p.probability * 100).toFixed(2).padStart(6);
      lines.push(`  ${rank + 1}. ${p.label.padEnd(width)}  ${percent}%  [${p.index}]`);
    });
  }
  return lines.join("\n");
}

async function classify(args: Args): Promise<void> {
  const inputs = args._.slice(1).map(String);
  if (inputs.length === 0) {
    throw new UsageError("classify needs at least one image, directory or glob");
  }
  const paths = await expandImageArgs(inputs);
  const top = positiveInt(args, "top", 5);
  const batch = positiveInt(args, "batch", 16);
  await backend(args, !(await prefersOrt(engine(args))));
  const preprocess = args.preprocess === undefined
    ? undefined
    : PREPROCESS_PRESETS[args.preprocess];
  if (args.preprocess !== undefined && !preprocess) {
    throw new UsageError(
      `--preprocess must be one of ${
        Object.keys(PREPROCESS_PRESETS).join(", ")
      }, got '${args.preprocess}'`,
    );
  }
  if (args.labels !== undefined && !["imagenet", "cifar10"].includes(args.labels)) {
    throw new UsageError(`--labels must be imagenet or cifar10, got '${args.labels}'`);
  }
  const classifier = await loadClassifier(args.model, {
    progress: true,
    engine: engine(args),
    // For a handful of images, loading dominates: a lighter onnxruntime session loads
    // faster in less memory, at a slower (but here unrepeated) forward pass.
    ortOptimization: paths.length <= batch ? "extended" : "all",
    preprocess,
    labels: args.labels as LabelSet | undefined,
  });
  const showProgress = Deno.stderr.isTerminal() && paths.length > batch;
  const results = await classifyFiles(classifier, paths, {
    top,
    batch,
    onBatch: (batchResults, done, total) => {
      if (!args.json) console.log(formatTable(batchResults, classifier.name));
      if (showProgress) {
        Deno.stderr.writeSync(new TextEncoder().encode(`\rclassified ${done}/${total}`));
      }
    },
  });
  if (showProgress) Deno.stderr.writeSync(new TextEncoder().encode("\n"));
  if (args.json) console.log(JSON.stringify(results, null, 2));
  else console.error(`engine: ${classifier.engine.name}`);
  await classifier.engine.dispose();
}

async function convert(args: Args): Promise<void> {
  const source = String(args._[1] ?? "");
  if (!source) throw new UsageError("convert needs a source file");
  const out = option(args, "out");
  const arch = args.arch && args.arch !== "auto" ? getSpec(args.arch) : undefined;
  await backend(args, false);
  const { bytes, sha256 } = await readSource(source);
  let imported: ImportedModel;
  try {
    imported = await importBytes(bytes, source, { arch });
  } catch (error) {
    if (arch || !(error instanceof NotZooResNetError)) throw error;
    await convertGraph(bytes, source, out, error.message);
    return;
  }
  const model = createModel(imported.spec, { weights: imported.weights });
  const counts = countParams(model.plan);
  console.log(`source format: ${imported.format}`);
  console.log(`architecture:  ${imported.spec.name}`);
  console.log(
    `parameters:    ${counts.trainable.toLocaleString("en-US")} trainable, ${
      counts.total.toLocaleString("en-US")
    } in all`,
  );
  // A folder gets the zoo file: the graph matched a zoo spec, so its weights are all it needs.
  const target = /\.(safetensors|onnx)$/.test(out)
    ? out
    : `${out}/${imported.spec.name}.safetensors`;
  if (target !== out) await Deno.mkdir(out, { recursive: true });
  const written = target.endsWith(".onnx")
    ? (await import("./convert/onnx_export.ts")).exportOnnx(model.plan, model.weights)
    : await toZooFile(bytes, source, imported, { sha256 });
  const size = await writeAtomically(target, written);
  console.log(
    `wrote ${target} (${size.toLocaleString("en-US")} bytes): the graph matches a zoo spec`,
  );
  if (args.verify) await verify(bytes, source, imported.format, model);
  model.dispose();
}

/** A network that is no zoo ResNet: Keras models become a tfjs layers model in a folder. */
async function convertGraph(
  bytes: Uint8Array,
  source: string,
  out: string,
  reason: string,
): Promise<void> {
  const why = reason.replace(`${source}: `, "");
  if (detectFormat(bytes, source) === "onnx") {
    throw new ZooFormatError(
      source,
      `${why}. ONNX graphs outside the zoo run as they are: pass the .onnx file to predict or classify`,
    );
  }
  if (/\.(safetensors|onnx)$/.test(out)) {
    throw new UsageError(
      `${source} is not a zoo ResNet (${why}); give --out a folder for a tfjs layers model`,
    );
  }
  const model = await loadKerasModel(bytes, source);
  await saveLayersModel(model, out);
  console.log(`source format: ${detectFormat(bytes, source)}`);
  console.log(`architecture:  ${model.name} (its own graph: ${why})`);
  console.log(`parameters:    ${model.countParams().toLocaleString("en-US")}`);
  console.log(
    `wrote ${out}/model.json and its weights: a tfjs layers model, since no zoo spec matches`,
  );
  model.dispose();
}

/**
 * Runs the ONNX source in onnxruntime and the converted model on one random input, on the
 * backend `convert` already started.
 */
async function verify(
  bytes: Uint8Array,
  source: string,
  format: string,
  model: ZooModel,
): Promise<void> {
  if (format !== "onnx") {
    throw new UsageError("--verify needs an ONNX source (it runs the source in onnxruntime)");
  }
  if (!(await ortAvailable())) {
    throw new Error("--verify needs npm:onnxruntime-node, which could not load here");
  }
  // The source's declared input shape, symbolic dimensions filled in.
  const declared = (await readOnnx(bytes, source)).graph.inputs[0]?.shape ?? [];
  const size = defaultInputSize(model.spec);
  const shape = [1, 3, size, size].map((fallback, i) =>
    typeof declared[i] === "number" ? declared[i] as number : fallback
  );
  const x = tf.randomNormal(shape, 0, 1, "float32", 1);
  const input = (await x.data()) as Float32Array;
  // From its path: onnxruntime then also finds external data beside the source.
  const session = await createOrtSession(source);
  const expected = (await session.run(input, shape)).data;
  await session.dispose();
  const nchw = createModel(model.spec, { weights: model.weights, dataFormat: "channels_first" });
  const got = (await nchw.predict(x as tf.Tensor4D).data()) as Float32Array;
  nchw.dispose();
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < got.length; i++) {
    diff = Math.max(diff, Math.abs(got[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  const classes = got.length / shape[0];
  const argmax = (a: Float32Array, n: number) => {
    const row = a.subarray(n * classes, (n + 1) * classes);
    return row.indexOf(Math.max(...row));
  };
  const agree =
    Array.from({ length: shape[0] }, (_, n) => n).filter((n) =>
      argmax(got, n) === argmax(expected, n)
    ).length;
  console.log(
    `verify: max abs diff ${diff.toExponential(2)} (relative ${
      (diff / scale).toExponential(2)
    }), ` +
      `top-1 agreement ${agree}/${shape[0]} against onnxruntime`,
  );
  if (agree !== shape[0] || diff / scale > 1e-4) {
    throw new Error("verification failed: the converted model disagrees");
  }
}

async function predict(args: Args): Promise<void> {
  const weightsPath = option(args, "weights");
  const inputPath = option(args, "input");
  const outputPath = option(args, "output");
  const layout = args["input-layout"] ?? "nhwc";
  if (layout !== "nchw" && layout !== "nhwc") {
    throw new UsageError(`--input-layout must be nchw or nhwc, got '${layout}'`);
  }
  await backend(args, true);
  const input = readNpy(await Deno.readFile(inputPath), inputPath);
  if (input.shape.length !== 4) {
    throw new ZooFormatError(inputPath, `expected a 4-D input, got shape [${input.shape}]`);
  }
  const data = input.data instanceof Float32Array
    ? input.data
    : Float32Array.from(input.data as ArrayLike<number>);
  const x = tf.tensor4d(data, input.shape as [number, number, number, number]);
  const { name, y } = await runAnyModel(weightsPath, x, layout);
  await writeAtomically(outputPath, writeNpy(y.shape, (await y.data()) as Float32Array));
  console.log(`${name}: wrote logits [${y.shape}] to ${outputPath}`);
}

/** Runs a zoo ResNet, or any Keras/ONNX graph, on a batch in the given layout. */
async function runAnyModel(path: string, x: tf.Tensor4D, layout: "nchw" | "nhwc") {
  const bytes = await readWholeFile(path);
  try {
    const imported = await importBytes(bytes, path);
    const model = createModel(imported.spec, {
      weights: imported.weights,
      dataFormat: layout === "nchw" ? "channels_first" : "channels_last",
    });
    return { name: imported.spec.name, y: model.predict(x) };
  } catch (error) {
    if (!(error instanceof NotZooResNetError)) throw error;
  }
  const graph = await loadGraphModel(bytes, path);
  const input = graph.layout === layout
    ? x
    : tf.transpose(x, layout === "nchw" ? [0, 2, 3, 1] : [0, 3, 1, 2]);
  return { name: `${path} (its own graph)`, y: graph.predict(input as tf.Tensor4D) };
}

function summary(entry: WeightsEntry) {
  return {
    id: entry.id,
    architecture: entry.architecture,
    format: entry.sourceFormat,
    top1: entry.metrics.top1 ?? null,
    params: entry.metrics.params ?? null,
    labels: entry.labels,
  };
}

function list(args: Args): void {
  const rows = REGISTRY.map(summary);
  if (args.json) {
    console.log(JSON.stringify(rows, null, 2));
    return;
  }
  const header = ["id", "architecture", "format", "top-1", "params", "labels"];
  const cells = rows.map((r) => [
    r.id,
    r.architecture,
    r.format,
    r.top1 === null ? "-" : r.top1.toFixed(2),
    r.params === null ? "-" : r.params.toLocaleString("en-US"),
    r.labels,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) =>
    c.map((v, i) => (i === 3 || i === 4 ? v.padStart(widths[i]) : v.padEnd(widths[i]))).join("  ");
  console.log(
    [line(header), line(widths.map((w) => "-".repeat(w))), ...cells.map(line)].join("\n"),
  );
}

function info(args: Args): void {
  const id = String(args._[1] ?? "");
  if (!id) throw new UsageError("info needs a weights id (see `list`)");
  console.log(JSON.stringify(findWeights(id), null, 2));
}

async function pull(args: Args): Promise<void> {
  const id = String(args._[1] ?? "");
  if (!id) throw new UsageError("pull needs a weights id (see `list`)");
  if (args.verify) {
    const state = await verifyCached(findWeights(id));
    console.log(`${id}: ${state}`);
    if (state === "ok") return;
  }
  const path = await pullWeights(id, { progress: true });
  console.log(`${id}: ${path}`);
  readZooWeights(await readWholeFile(path), path);
}

/** A model for `bench`: a preset (random weights), a registry id or a weights file. */
async function benchModel(name: string): Promise<ZooModel> {
  if (PRESETS[name]) return createModel(name, { seed: 1 });
  const path = REGISTRY.some((e) => e.id === name)
    ? await pullWeights(name, { progress: true })
    : name;
  const imported = await importFile(path);
  return createModel(imported.spec, { weights: imported.weights });
}

async function bench(args: Args): Promise<void> {
  const name = option(args, "model");
  const batch = positiveInt(args, "batch", 1);
  const runs = positiveInt(args, "runs", 10);
  const choice = args.engine ?? "tfjs";
  const ran = await backend(args, choice !== "onnxruntime");
  const model = await benchModel(name);
  const size = defaultInputSize(model.spec);
  const shape = [batch, size, size, 3];
  const engines = choice === "all" ? ["tfjs", "onnxruntime"] : [choice];
  const haveOrt = await ortAvailable();
  const ortThreads = navigator.hardwareConcurrency;
  const ort = haveOrt ? await ortEngine(model, { threads: ortThreads }) : null;
  const ortTiming = ort ? await measure(ort, shape, runs) : null;
  const rows = [];
  for (const which of engines) {
    if (!["auto", "tfjs", "onnxruntime"].includes(which)) {
      throw new UsageError(`--engine must be auto, tfjs, onnxruntime or all`);
    }
    const engine = which === "onnxruntime" && ort
      ? ort
      : await createEngine(model, which as EngineChoice);
    const timing = engine === ort ? ortTiming! : await measure(engine, shape, runs);
    rows.push({
      model: name,
      engine: engine.name.startsWith("tfjs") ? "tfjs" : engine.name,
      backend: engine.name.startsWith("tfjs") ? ran : "cpu",
      threads: engine.name.startsWith("tfjs")
        ? (ran === "wasm" ? wasmThreadCount() : 1)
        : ortThreads,
      batch,
      median_ms: round(timing.medianMs),
      min_ms: round(timing.minMs),
      max_ms: round(timing.maxMs),
      images_per_s: round(timing.imagesPerSecond),
      peak_rss_mb: round(timing.peakRssMb),
      ort_median_ms: ortTiming ? round(ortTiming.medianMs) : null,
      ratio_vs_ort: ortTiming ? round(timing.medianMs / ortTiming.medianMs) : null,
    });
    if (engine !== ort) await engine.dispose();
  }
  await ort?.dispose();
  model.dispose();
  if (args.json) {
    for (const row of rows) console.log(JSON.stringify(row));
    return;
  }
  for (const r of rows) {
    console.log(
      `${r.model} ${r.engine}/${r.backend} (${r.threads} thread${
        r.threads === 1 ? "" : "s"
      }) batch ${r.batch}: ` +
        `median ${r.median_ms} ms ` +
        `(min ${r.min_ms}, max ${r.max_ms}), ${r.images_per_s} images/s, peak RSS ${r.peak_rss_mb} MiB` +
        (r.ort_median_ms === null
          ? ""
          : `; onnxruntime ${r.ort_median_ms} ms, ratio ${r.ratio_vs_ort}×`),
    );
  }
}

const round = (x: number) => Math.round(x * 100) / 100;

const COMMANDS: Record<string, (args: Args) => Promise<void> | void> = {
  classify,
  convert,
  predict,
  list,
  info,
  pull,
  bench,
};

/**
 * Runs the CLI with the given arguments; returns the exit code.
 *
 * @example
 * ```ts
 * const code = await main(["list", "--json"]);
 * ```
 */
export async function main(argv: string[]): Promise<number> {
  const args = parse(argv);
  const command = String(args._[0] ?? "");
  if (args.help || !command) {
    console.log(USAGE);
    return command || args.help ? 0 : 2;
  }
  const run = COMMANDS[command];
  if (!run) {
    console.error(`denozoo: unknown command '${command}'\n\n${USAGE}`);
    return 2;
  }
  try {
    await run(args);
    return 0;
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
      console.error(`denozoo: ${(error as Error).message}`);
      return 1;
    }
    if (
      error instanceof UsageError || error instanceof ZooFormatError ||
      error instanceof Deno.errors.NotFound
    ) {
      console.error(`denozoo: ${(error as Error).message}`);
      return error instanceof UsageError ? 2 : 1;
    }
    console.error(`denozoo: ${(error as Error).message ?? error}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
