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

import * as tf from "@tensorflow/tfjs";
import { parseArgs } from "@std/cli/parse-args";
import { type BackendChoice, useBackend } from "./zoo/backend.ts";
import { classifyFiles, type ImageResult } from "./zoo/classify.ts";
import { loadClassifier, pullWeights, toZooFile } from "./zoo/load.ts";
import { expandImageArgs } from "./zoo/image.ts";
import { createModel } from "./zoo/model.ts";
import { getSpec } from "./zoo/spec.ts";
import { countParams } from "./zoo/plan.ts";
import { findWeights, REGISTRY, type WeightsEntry } from "./zoo/registry.ts";
import { verifyCached } from "./zoo/cache.ts";
import { importFile } from "./convert/import.ts";
import { readNpy, writeNpy } from "./convert/npy.ts";
import { readZooWeights } from "./convert/zoofile.ts";
import { ZooFormatError } from "./convert/types.ts";

const USAGE = `denozoo: pretrained ResNets for Deno

Usage:
  cli.ts classify IMAGE… [--model ID|FILE] [--top 5] [--json] [--backend auto|webgpu|wasm|cpu] [--batch 16]
  cli.ts convert SRC --out FILE.safetensors [--arch auto|NAME] [--verify]
  cli.ts predict --weights FILE --input X.npy --output Y.npy [--input-layout nchw|nhwc] [--backend …]
  cli.ts list [--json]
  cli.ts info ID
  cli.ts pull ID [--verify]

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

async function backend(args: Args): Promise<string> {
  const choice = (args.backend ?? "auto") as BackendChoice;
  if (!["auto", "webgpu", "wasm", "cpu"].includes(choice)) {
    throw new UsageError(`--backend must be auto, webgpu, wasm or cpu, got '${choice}'`);
  }
  return await useBackend(choice);
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
  const ran = await backend(args);
  const classifier = await loadClassifier(args.model, { progress: true });
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
  else console.error(`backend: ${ran}`);
  classifier.model.dispose();
}

async function convert(args: Args): Promise<void> {
  const source = String(args._[1] ?? "");
  if (!source) throw new UsageError("convert needs a source file");
  const out = option(args, "out");
  const arch = args.arch && args.arch !== "auto" ? getSpec(args.arch) : undefined;
  const imported = await importFile(source, { arch });
  const counts = countParams(createModel(imported.spec, { weights: imported.weights }).plan);
  console.log(`source format: ${imported.format}`);
  console.log(`architecture:  ${imported.spec.name}`);
  console.log(
    `parameters:    ${counts.trainable.toLocaleString("en-US")} trainable, ${
      counts.total.toLocaleString("en-US")
    } in all`,
  );
  if (!out.endsWith(".safetensors")) throw new UsageError("--out must end with .safetensors");
  const bytes = await toZooFile(source, imported);
  const temporary = `${out}.${Deno.pid}.tmp`;
  await Deno.writeFile(temporary, bytes);
  await Deno.rename(temporary, out);
  console.log(`wrote ${out} (${bytes.length.toLocaleString("en-US")} bytes)`);
}

async function predict(args: Args): Promise<void> {
  const weightsPath = option(args, "weights");
  const inputPath = option(args, "input");
  const outputPath = option(args, "output");
  const layout = args["input-layout"] ?? "nhwc";
  if (layout !== "nchw" && layout !== "nhwc") {
    throw new UsageError(`--input-layout must be nchw or nhwc, got '${layout}'`);
  }
  await backend(args);
  const imported = await importFile(weightsPath);
  const input = readNpy(await Deno.readFile(inputPath), inputPath);
  if (input.shape.length !== 4) {
    throw new ZooFormatError(inputPath, `expected a 4-D input, got shape [${input.shape}]`);
  }
  const model = createModel(imported.spec, {
    weights: imported.weights,
    dataFormat: layout === "nchw" ? "channels_first" : "channels_last",
  });
  const data = input.data instanceof Float32Array
    ? input.data
    : Float32Array.from(input.data as ArrayLike<number>);
  const y = model.predict(tf.tensor4d(data, input.shape as [number, number, number, number]));
  const temporary = `${outputPath}.${Deno.pid}.tmp`;
  await Deno.writeFile(temporary, writeNpy(y.shape, (await y.data()) as Float32Array));
  await Deno.rename(temporary, outputPath);
  console.log(`${imported.spec.name}: wrote logits [${y.shape}] to ${outputPath}`);
  model.dispose();
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
  readZooWeights(await Deno.readFile(path), path);
}

const COMMANDS: Record<string, (args: Args) => Promise<void> | void> = {
  classify,
  convert,
  predict,
  list,
  info,
  pull,
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
