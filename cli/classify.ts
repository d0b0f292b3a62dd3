/**
 * `classify IMAGE… [--model NAME] [--top 5] [--json|--json-array] [--batch 16] [--engine …]
 * [--backend …] [--preprocess PRESET] [--labels SET|FILE] [--shortcut VARIANT]`: labelled top-k
 * classes of images, streamed batch by batch as a table or as JSON lines; a file that cannot be
 * read or decoded is named on stderr and the rest are classified. What a foreign weights file
 * could not tell, and why a network runs as its own graph, is printed on stderr as warnings.
 *
 * @example
 * ```ts
 * import { classify, CLASSIFY } from "./classify.ts";
 * import { parseCommand } from "./args.ts";
 * await classify(parseCommand(CLASSIFY, ["testdata/images/cat.jpg", "--top", "1"]));
 * // testdata/images/cat.jpg  (cifar_resnet20.cifar10 (bundled))
 * //   1. cat  …%  [3]
 * ```
 *
 * @module
 */

import { backend, engine } from "./args.ts";
import {
  type Args,
  BACKEND_FLAG,
  CACHE_ENVIRONMENT,
  type CommandSpec,
  ENGINE_FLAG,
  JSON_FLAG,
  LABELS_FLAG,
  MODEL_MEANING,
  THREADS_FLAG,
} from "./flags.ts";
import { type Classifier, classifyStream, type ImageResult } from "../pipelines/classify.ts";
import { fileFailure } from "../pipelines/decode_stage.ts";
import { isOutOfMemory } from "../runtime/input_check.ts";
import { ProgressLine } from "./progress.ts";
import { loadClassifier } from "../pipelines/load.ts";
import { readLabels } from "../pipelines/labels.ts";
import { prefersOrt } from "../runtime/engine.ts";
import { expandImageArgs } from "../vision/paths.ts";
import { PREPROCESS_PRESETS } from "../arch/preprocess.ts";
import { printWarnings, SHORTCUT_FLAG, shortcutChoice } from "./source_options.ts";

/**
 * `classify` on the command line: operands, flags, examples, environment.
 *
 * @example
 * ```ts
 * import { CLASSIFY } from "./classify.ts";
 * console.log(CLASSIFY.flags.find((f) => f.name === "top")?.default); // 5
 * ```
 */
export const CLASSIFY = {
  name: "classify",
  brief: "the top classes of images",
  summary: "Classify images: the top classes of each, with their probabilities, printed as a " +
    "table as each batch finishes (or as JSON lines). A file that cannot be read or decoded is " +
    "named on stderr, the others are classified, and the exit code is then 1. Without --model, " +
    "the bundled CIFAR-10 ResNet-20 runs offline.",
  operands: {
    name: "IMAGE…",
    meaning: "image files (JPEG, PNG, GIF, WebP), folders (searched recursively) or globs " +
      "('photos/**/*.jpg')",
    min: 1,
    max: Infinity,
  },
  flags: [
    {
      name: "model",
      kind: "string",
      aliases: ["m"],
      value: "NAME",
      defaultText: "the bundled CIFAR-10 ResNet-20 (cifar_resnet20.cifar10)",
      meaning: `the model: ${MODEL_MEANING}`,
    },
    {
      name: "top",
      kind: "integer",
      value: "N",
      min: 1,
      default: 5,
      meaning: "classes shown per image",
    },
    {
      name: "batch",
      kind: "integer",
      value: "N",
      min: 1,
      default: 16,
      meaning: "images per forward pass; memory grows with it, not with the number of images",
    },
    {
      ...JSON_FLAG,
      meaning: "print one JSON object per image and line (image, model, engine, predictions or " +
        "error), as each batch finishes",
    },
    {
      name: "json-array",
      kind: "boolean",
      meaning: "print the same objects as one JSON array once all images are done (what --json " +
        "printed before JSON lines)",
    },
    ENGINE_FLAG,
    BACKEND_FLAG,
    THREADS_FLAG,
    {
      name: "preprocess",
      kind: "string",
      value: "NAME",
      choices: Object.keys(PREPROCESS_PRESETS),
      defaultText: "what the weights record, else their family's",
      meaning: "resizing and scaling of the images",
    },
    LABELS_FLAG,
    SHORTCUT_FLAG,
  ],
  examples: [
    "denozoo classify cat.jpg                                # the bundled CIFAR-10 ResNet-20",
    "denozoo classify photos/ --model resnet50 --top 3       # resnet50.tv2_in1k, downloaded once",
    "denozoo classify 'shots/*.png' --model my.onnx --labels names.txt --json",
  ],
  env: CACHE_ENVIRONMENT,
} as const satisfies CommandSpec;

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
async function expandEach(
  inputs: readonly string[],
): Promise<{ paths: string[]; failures: ImageResult[] }> {
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
 * import { parseCommand } from "./args.ts";
 * await classify(parseCommand(CLASSIFY, ["testdata/images/cat.jpg", "--top", "1", "--json"]));
 * // {"image":"testdata/images/cat.jpg","model":"cifar_resnet20.cifar10 (bundled)","engine":"onnxruntime","predictions":[{"index":3,"label":"cat",…}]}
 * ```
 */
export async function classify(args: Args<typeof CLASSIFY>): Promise<void> {
  const { top, batch } = args;
  const json = args["json-array"] ? "array" : args.json ? "lines" : undefined;
  const labels = args.labels === undefined ? undefined : await readLabels(args.labels);
  await backend(args, !(await prefersOrt(engine(args))));
  const { paths, failures } = await expandEach(args.operands);
  for (const failure of failures) console.error(`denozoo: ${failure.error}`);
  const total = paths.length + failures.length;
  if (paths.length === 0) throw new Error(`none of the ${total} arguments names an image`);
  const classifier = await loadClassifier(args.model, {
    progress: true,
    engine: engine(args),
    // For a handful of images, loading dominates: a lighter onnxruntime session loads
    // faster in less memory, at a slower (but here unrepeated) forward pass.
    ortOptimization: paths.length <= batch ? "extended" : "all",
    preprocess: args.preprocess === undefined ? undefined : PREPROCESS_PRESETS[args.preprocess],
    labels,
    shortcut: shortcutChoice(args.shortcut),
  });
  printWarnings(classifier.warnings);
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
    // A wasm heap that ran out of memory cannot free anything any more.
    if (!isOutOfMemory(crash)) await classifier.engine.dispose();
  }
  if (json === "array") console.log(JSON.stringify(records, null, 2));
  if (!json) console.error(`engine: ${classifier.engine.name}`);
  if (failed > 0) {
    throw new Error(`${failed} of ${total} images could not be read or decoded (named above)`);
  }
}
