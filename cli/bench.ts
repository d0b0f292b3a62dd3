/**
 * `bench --model NAME [--engine tfjs|onnxruntime|auto|all] [--backend …] [--batch 1]
 * [--runs 10] [--json]`: forward-pass timings per engine, with onnxruntime's as the yardstick.
 *
 * @example
 * ```ts
 * import { bench, BENCH } from "./bench.ts";
 * import { parseCommand } from "./args.ts";
 * await bench(parseCommand(BENCH, ["--model", "cifar_resnet20", "--backend", "cpu", "--runs", "2"]));
 * // cifar_resnet20 tfjs/cpu (1 thread) batch 1: median … ms (min …, max …), … images/s, …
 * ```
 *
 * @module
 */

import { backend } from "./args.ts";
import {
  type Args,
  BACKEND_FLAG,
  CACHE_ENVIRONMENT,
  type CommandSpec,
  ENGINE_FLAG,
  JSON_FLAG,
  THREADS_FLAG,
} from "./flags.ts";
import { defaultInputSize } from "../arch/spec.ts";
import { PRESETS } from "../arch/presets.ts";
import { NotZooResNetError } from "../arch/errors.ts";
import { wasmThreadCount } from "../runtime/backend.ts";
import { createModel, type ZooModel } from "../runtime/model.ts";
import { createEngine, type EngineChoice, ortEngine } from "../runtime/engine.ts";
import { ortAvailable } from "../runtime/ort.ts";
import { measure } from "../runtime/bench.ts";
import { resolveModel } from "../pipelines/resolve.ts";

/**
 * `bench` on the command line: flags, examples, environment.
 *
 * @example
 * ```ts
 * import { BENCH } from "./bench.ts";
 * console.log(BENCH.flags.find((f) => f.name === "runs")?.default); // 10
 * ```
 */
export const BENCH = {
  name: "bench",
  brief: "time a model's forward pass per engine",
  summary: "Time a zoo ResNet's forward pass per engine (median, min and max of the runs, " +
    "images per second, peak RSS), with onnxruntime's time as the yardstick.",
  flags: [
    {
      name: "model",
      kind: "string",
      aliases: ["m"],
      value: "NAME",
      required: true,
      meaning: "an architecture, run with random weights (timings do not depend on them), a " +
        "registry id (resnet50.tv2_in1k; see `list`), a weights file or a folder `convert` wrote",
    },
    {
      ...ENGINE_FLAG,
      choices: ["tfjs", "onnxruntime", "auto", "all"],
      default: "tfjs",
      meaning: "what to time: tfjs, onnxruntime, auto (what classify would pick) or all of them",
    },
    BACKEND_FLAG,
    THREADS_FLAG,
    {
      name: "batch",
      kind: "integer",
      value: "N",
      min: 1,
      default: 1,
      meaning: "images per forward pass",
    },
    {
      name: "runs",
      kind: "integer",
      value: "N",
      min: 1,
      default: 10,
      meaning: "timed forward passes per engine, after one warm-up",
    },
    { ...JSON_FLAG, meaning: "print one JSON object per engine instead of a line" },
  ],
  examples: [
    "denozoo bench --model resnet50 --engine all",
    "denozoo bench --model resnet50 --backend wasm --threads 2 --batch 8",
    "denozoo bench --model cifar_resnet20.cifar10 --runs 100 --json",
  ],
  env: CACHE_ENVIRONMENT,
} as const satisfies CommandSpec;

/**
 * A model for `bench`: an architecture with random weights, else what the name resolves to,
 * which must be a zoo ResNet.
 */
async function benchModel(name: string): Promise<ZooModel> {
  if (Object.hasOwn(PRESETS, name)) return createModel(name, { seed: 1 });
  const resolved = await resolveModel(name, { progress: true });
  if (resolved.kind === "graph") {
    throw new NotZooResNetError(
      resolved.name,
      `${resolved.reason.message.replace(`${resolved.name}: `, "")}; bench times the zoo's ` +
        "ResNets (classify and predict run other networks from their own graph)",
    );
  }
  return createModel(resolved.model.spec, { weights: resolved.model.weights });
}

const round = (x: number) => Math.round(x * 100) / 100;

/**
 * Runs `bench`.
 *
 * @example
 * ```ts
 * import { parseCommand } from "./args.ts";
 * await bench(parseCommand(BENCH, ["--model", "cifar_resnet20", "--backend", "cpu", "--runs", "2", "--json"]));
 * // {"model":"cifar_resnet20","engine":"tfjs","backend":"cpu","threads":1,"batch":1,"median_ms":…}
 * ```
 */
export async function bench(args: Args<typeof BENCH>): Promise<void> {
  const { model: name, batch, runs, engine: choice } = args;
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
