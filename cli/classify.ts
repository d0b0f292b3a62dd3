/**
 * `classify IMAGE… [--model ID|FILE] [--top 5] [--json|--json-array] [--batch 16] [--engine …]
 * [--backend …] [--preprocess PRESET] [--labels imagenet|cifar10]`: labelled top-k classes of
 * images, streamed batch by batch as a table or as JSON lines; a file that cannot be read or
 * decoded is named on stderr and the rest are classified.
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
import { type Classifier, classifyStream, type ImageResult } from "../pipelines/classify.ts";
import { loadClassifier } from "../pipelines/load.ts";
import { fileFailure } from "../pipelines/decode_stage.ts";
import { prefersOrt } from "../runtime/engine.ts";
import { expandImageArgs } from "../vision/paths.ts";
import { PREPROCESS_PRESETS } from "../arch/preprocess.ts";
import type { LabelSet } from "../arch/labels.ts";
import { ProgressLine } from "./progress.ts";
import { isOutOfMemory } from "../runtime/input_check.ts";

/** One result as a table: the image and model, then one ranked line per class. */
function formatTable({ image, predictions }: ImageResult, model: string): string {
  const lines = [`${image}  (${model})`];
  const width = Math.max(...predictions.map((p) => p.label.length));
  predictions.forEach((p, rank) => {
    const percent = (p.probability * 100).toFixed(2).padStart(6);
    lines.push(`  ${rank + 1}. ${p.label.padEnd(width)}  ${percent}%  [${p.index}]`);
  });
  return lines.join("\n");
}

/** One result as `--json` prints it: the image, the model and engine, then predictions or the error. */
function jsonRecord(result: ImageResult, classifier: Classifier): Record<string, unknown> {
  const { image, predictions, error } = result;
  const record = { image, model: classifier.name, engine: classifier.engine.name };
  return error === undefined ? { ...record, predictions } : { ...record, error };
}

/**
 * The image files the arguments name, each argument expanded on its own: one that names nothing
 * readable is a failure to report, not the end of the run.
 */
async function expandEach(inputs: string[]): Promise<{ paths: string[]; failures: ImageResult[] }> {
  const paths = new Set<string>();
  const failures: ImageResult[] = [];
  for (const input of inputs) {
    try {
      for (const path of await expandImageArgs([input])) paths.add(path);
    } catch (error) {
      failures.push({ image: input, predictions: [], error: fileFailure(input, error) });
    }
  }
  return { paths: [...paths], failures };
}

/**
 * Runs `classify`. Results print as each batch finishes, in input order: a table, or with
 * `--json` one JSON object per line (`--json-array`: one array at the end). A file that cannot
 * be read or decoded is named on stderr with the reason and the others are classified; the
 * command then fails (exit 1) once everything else is printed.
 *
 * @example
 * ```ts
 * import { parseArgv } from "./args.ts";
 * await classify(parseArgv(["classify", "testdata/images/cat.jpg", "--top", "1", "--json"]));
 * // {"image":"testdata/images/cat.jpg","model":"cifar_resnet20.cifar10 (bundled)","engine":"onnxruntime","predictions":[{"index":3,"label":"cat",…}]}
 * ```
 */
export async function classify(args: Args): Promise<void> {
  const inputs = args._.slice(1).map(String);
  if (inputs.length === 0) {
    throw new UsageError("classify needs at least one image, directory or glob");
  }
  const top = positiveInt(args, "top", 5);
  const batch = positiveInt(args, "batch", 16);
  const json = args["json-array"] ? "array" : args.json ? "lines" : undefined;
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
  const { paths, failures } = await expandEach(inputs);
  for (const failure of failures) console.error(`denozoo: ${failure.error}`);
  const total = paths.length + failures.length;
  if (paths.length === 0) throw new Error(`none of the ${total} arguments names an image`);
  const classifier = await loadClassifier(args.model, {
    progress: true,
    engine: engine(args),
    // For a handful of images, loading dominates: a lighter onnxruntime session loads
    // faster in less memory, at a slower (but here unrepeated) forward pass.
    ortOptimization: paths.length <= batch ? "extended" : "all",
    preprocess,
    labels: args.labels as LabelSet | undefined,
  });
  const records = failures.map((failure) => jsonRecord(failure, classifier));
  if (json === "lines") records.splice(0).forEach((r) => console.log(JSON.stringify(r)));
  const progress = new ProgressLine("classified", paths.length, {
    enabled: Deno.stderr.isTerminal() && paths.length > batch,
  });
  let done = 0;
  let failed = failures.length;
  let crash: unknown;
  try {
    progress.update(0);
    for await (const result of classifyStream(classifier, paths, { top, batch })) {
      progress.clear();
      if (result.error !== undefined) {
        failed++;
        console.error(`denozoo: ${result.error}`);
      }
      if (json === "lines") console.log(JSON.stringify(jsonRecord(result, classifier)));
      else if (json === "array") records.push(jsonRecord(result, classifier));
      else if (result.error === undefined) console.log(formatTable(result, classifier.name));
      progress.update(++done);
    }
  } catch (error) {
    crash = error;
    throw error;
  } finally {
    progress.clear();
    if (!isOutOfMemory(crash)) await classifier.engine.dispose();
  }
  if (json === "array") console.log(JSON.stringify(records, null, 2));
  if (!json) console.error(`engine: ${classifier.engine.name}`);
  if (failed > 0) {
    throw new Error(
      `${failed} of ${total} images could not be read or decoded (named above)`,
    );
  }
}
