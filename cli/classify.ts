/**
 * `classify IMAGE… [--model NAME] [--top 5] [--json] [--batch 16] [--engine …] [--backend …]
 * [--preprocess PRESET] [--labels SET|FILE] [--shortcut VARIANT]`: labelled top-k classes of
 * images, streamed batch by batch as a table, or as JSON at the end. What a foreign weights file
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
import { classifyFiles, type ImageResult } from "../pipelines/classify.ts";
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
    "table as each batch finishes (or as JSON). Without --model, the bundled CIFAR-10 " +
    "ResNet-20 runs offline.",
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
      meaning: "images per forward pass",
    },
    { ...JSON_FLAG, meaning: "print the results as JSON instead of a table" },
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
 * import { parseCommand } from "./args.ts";
 * await classify(parseCommand(CLASSIFY, ["testdata/images/cat.jpg", "--top", "1", "--json"]));
 * // [{ "image": "testdata/images/cat.jpg", "predictions": [{ "index": 3, "label": "cat", … }] }]
 * ```
 */
export async function classify(args: Args<typeof CLASSIFY>): Promise<void> {
  const paths = await expandImageArgs([...args.operands]);
  const { top, batch } = args;
  const labels = args.labels === undefined ? undefined : await readLabels(args.labels);
  await backend(args, !(await prefersOrt(engine(args))));
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
