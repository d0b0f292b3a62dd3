/**
 * `bench --model NAME|ID|FILE [--engine tfjs|onnxruntime|auto|all] [--backend …] [--batch 1]
 * [--runs 10] [--json]`: forward-pass timings per engine, with onnxruntime's as the yardstick.
 *
 * @example
 * ```ts
 * import { bench } from "./bench.ts";
 * import { parseArgv } from "./args.ts";
 * await bench(parseArgv(["bench", "--model", "cifar_resnet20", "--backend", "cpu", "--runs", "2"]));
 * // cifar_resnet20 tfjs/cpu (1 thread) batch 1: median … ms (min …, max …), … images/s, …
 * ```
 *
 * @module
 */

import { type Args, backend, option, positiveInt, UsageError } from "./args.ts";
import { defaultInputSize } from "../arch/spec.ts";
import { PRESETS } from "../arch/presets.ts";
import { wasmThreadCount } from "../runtime/backend.ts";
import { createModel, type ZooModel } from "../runtime/model.ts";
import { createEngine, type EngineChoice, ortEngine } from "../runtime/engine.ts";
import { ortAvailable } from "../runtime/ort.ts";
import { measure } from "../runtime/bench.ts";
import { importFile } from "../convert/import.ts";
import { isRegistryId, pullWeights } from "../pipelines/pull.ts";
import type { Calibration, WeightsDType } from "../convert/quantize.ts";

/**
 * A model for `bench`: a preset (random weights), a registry id or a weights file, with an int8
 * zoo file's calibration (onnxruntime then runs it in int8).
 */
async function benchModel(
  name: string,
): Promise<{ model: ZooModel; dtype: WeightsDType; calibration?: Calibration }> {
  if (PRESETS[name]) return { model: createModel(name, { seed: 1 }), dtype: "float32" };
  const path = isRegistryId(name) ? await pullWeights(name, { progress: true }) : name;
  const imported = await importFile(path);
  const model = createModel(imported.spec, { weights: imported.weights });
  return { model, dtype: imported.dtype ?? "float32", calibration: imported.calibration };
}

const round = (x: number) => Math.round(x * 100) / 100;

/**
 * Runs `bench`.
 *
 * @example
 * ```ts
 * import { parseArgv } from "./args.ts";
 * await bench(parseArgv(["bench", "--model", "cifar_resnet20", "--backend", "cpu", "--runs", "2", "--json"]));
 * // {"model":"cifar_resnet20","dtype":"float32","engine":"tfjs","backend":"cpu","threads":1,"batch":1,"median_ms":…}
 * ```
 */
export async function bench(args: Args): Promise<void> {
  const name = option(args, "model");
  const batch = positiveInt(args, "batch", 1);
  const runs = positiveInt(args, "runs", 10);
  const choice = args.engine ?? "tfjs";
  const ran = await backend(args, choice !== "onnxruntime");
  const { model, dtype, calibration } = await benchModel(name);
  const size = defaultInputSize(model.spec);
  const shape = [batch, size, size, 3];
  const engines = choice === "all" ? ["tfjs", "onnxruntime"] : [choice];
  const haveOrt = await ortAvailable();
  const ortThreads = navigator.hardwareConcurrency;
  const ort = haveOrt ? await ortEngine(model, { threads: ortThreads, calibration }) : null;
  const ortTiming = ort ? await measure(ort, shape, runs) : null;
  const rows = [];
  for (const which of engines) {
    if (!["auto", "tfjs", "onnxruntime"].includes(which)) {
      throw new UsageError(`--engine must be auto, tfjs, onnxruntime or all`);
    }
    const engine = which === "onnxruntime" && ort
      ? ort
      : await createEngine(model, which as EngineChoice, { calibration });
    const timing = engine === ort ? ortTiming! : await measure(engine, shape, runs);
    rows.push({
      model: name,
      dtype,
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
      `${r.model}${
        r.dtype === "float32" ? "" : ` (${r.dtype})`
      } ${r.engine}/${r.backend} (${r.threads} thread${
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
