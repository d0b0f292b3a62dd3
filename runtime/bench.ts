/**
 * Latency measurement of an engine: warm-up, timed runs, median/min/max, throughput
 * and peak resident memory.
 *
 * @example
 * ```ts
 * import { useBackend } from "./backend.ts";
 * import { createModel } from "./model.ts";
 * import { tfjsEngine } from "./engine.ts";
 * import { measure } from "./bench.ts";
 * await useBackend("wasm");
 * const timing = await measure(tfjsEngine(createModel("cifar_resnet20")), [1, 32, 32, 3], 3);
 * console.log(timing.minMs <= timing.medianMs); // true
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import type { Tensor4D } from "./tensor.ts";
import type { Engine } from "./engine.ts";

/** Timings of one engine on one input shape. */
export interface Timing {
  /** Median latency of one batch, ms. */
  medianMs: number;
  /** Fastest batch, ms. */
  minMs: number;
  /** Slowest batch, ms. */
  maxMs: number;
  /** Images per second at the median. */
  imagesPerSecond: number;
  /** Peak resident set size seen during the runs, MiB. */
  peakRssMb: number;
}

/**
 * Runs `warmup` untimed and `runs` timed forward passes (each awaited to completion,
 * result read back) on a random NHWC batch.
 *
 * @example
 * ```ts
 * import { useBackend } from "./backend.ts";
 * import { createModel } from "./model.ts";
 * import { createEngine } from "./engine.ts";
 * await useBackend("wasm");
 * const engine = await createEngine(createModel("cifar_resnet20"), "auto");
 * const { imagesPerSecond } = await measure(engine, [8, 32, 32, 3], 2);
 * console.log(imagesPerSecond > 0); // true
 * await engine.dispose();
 * ```
 */
export async function measure(
  engine: Engine,
  shape: number[],
  runs: number,
  warmup = 2,
): Promise<Timing> {
  const x = tf.randomUniform(
    shape as [number, number, number, number],
    0,
    1,
    "float32",
    7,
  ) as Tensor4D;
  let peak = Deno.memoryUsage().rss;
  const once = async () => {
    const y = await engine.predict(x);
    await y.data();
    y.dispose();
    peak = Math.max(peak, Deno.memoryUsage().rss);
  };
  for (let i = 0; i < warmup; i++) await once();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await once();
    times.push(performance.now() - start);
  }
  x.dispose();
  times.sort((a, b) => a - b);
  const medianMs = times.length % 2
    ? times[(times.length - 1) / 2]
    : (times[times.length / 2 - 1] + times[times.length / 2]) / 2;
  return {
    medianMs,
    minMs: times[0],
    maxMs: times[times.length - 1],
    imagesPerSecond: (shape[0] * 1000) / medianMs,
    peakRssMb: peak / (1 << 20),
  };
}
