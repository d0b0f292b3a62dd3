/**
 * `classify IMAGE… [--model ID|FILE] [--top 5] [--json] [--batch 16] [--engine …]
 * [--backend …] [--preprocess PRESET] [--labels imagenet|cifar10] [--shortcut VARIANT]`:
 * labelled top-k classes of images, streamed batch by batch as a table, or as JSON at the end.
 * What a foreign weights file could not tell, and why a network runs as its own graph, is
 * printed on stderr as warnings.
 *
 * @example
 * ```ts
 * import { classify } from "./classify.ts";
 * import { parseArgv } from "./args.ts";
 * await classify(parseArgv(["classify", "testdata/images/cat.jpg", "--top", "1"]));
 * // testdata/images/cat.jpg  (cifar_resnet20.cifar10 (bundled))
 * //   1. cat  …%  [3]
 * ```
 *
 * @module
 */

import { type Args, backend, engine, positiveInt, UsageError } from "./args.ts";
import { classifyFiles, type ImageResult } from "../pipelines/classify.ts";
import { loadClassifier } from "../pipelines/load.ts";
import { prefersOrt } from "../runtime/engine.ts";
import { expandImageArgs } from "../vision/paths.ts";
import { PREPROCESS_PRESETS } from "../arch/preprocess.ts";
import type { LabelSet } from "../arch/labels.ts";
import { printWarnings, shortcutOption } from "./source_options.ts";

/** Results as a table: the image and model, then one ranked line per class. */
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

/**
 * Runs `classify`.
 *
 * @example
 * ```ts
 * import { parseArgv } from "./args.ts";
 * await classify(parseArgv(["classify", "testdata/images/cat.jpg", "--top", "1", "--json"]));
 * // [{ "image": "testdata/images/cat.jpg", "predictions": [{ "index": 3, "label": "cat", … }] }]
 * ```
 */
export async function classify(args: Args): Promise<void> {
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
    shortcut: shortcutOption(args),
  });
  printWarnings(classifier.warnings);
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
