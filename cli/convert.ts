/**
 * `convert SRC --out FILE.safetensors|FILE.onnx|FOLDER [--arch auto|NAME] [--labels SET|FILE]
 * [--shortcut VARIANT] [--verify|--no-verify] [--engine auto|tfjs|onnxruntime] [--dtype
 * float32|float16|int8] [--calibrate IMAGES] [--preprocess NAME]`: a weights file to the zoo's
 * own file (or an ONNX export) when it matches a zoo spec, else a Keras network to a tfjs layers
 * model in a folder. A source that runs (an ONNX file in onnxruntime, a Keras model as its own
 * graph) is run beside the converted model on a small input before anything is written, and a
 * disagreement is refused; `--no-verify` skips that, `--verify` insists on onnxruntime.
 * `--engine` picks what runs the converted model there: tfjs on `--backend`, or onnxruntime on
 * the model's own ONNX export (the graph a `.onnx` output holds); `auto` decides as it does for
 * `classify`. `--dtype` stores the weights in half precision or int8; with `--calibrate` (an
 * image, a folder or a glob) an int8 file also records activation ranges measured on those
 * images, and then runs in int8 on onnxruntime (an `.onnx` output is then an int8 QDQ graph).
 * Either output records the class names (`--labels`, else the source's) and preprocessing the
 * source records: a zoo file in its metadata, an ONNX export in its `metadata_props`.
 *
 * @example
 * ```ts
 * import { convert, CONVERT } from "./convert.ts";
 * import { parseCommand } from "./args.ts";
 * const dir = await Deno.makeTempDir();
 * await convert(parseCommand(CONVERT, ["testdata/fixtures/nets/tv_basic.onnx", "--out", dir, "--verify", "--engine", "onnxruntime"]));
 * // source format: onnx … verify: … top-1 agreement 2/2 against onnxruntime (converted model on onnxruntime) …
 * // wrote <dir>/resnet12_custom.safetensors …
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import { exportOnnx } from "../convert/onnx_export.ts";
import type { ImportedModel } from "../convert/import.ts";
import { loadGraphModel } from "../graph/graph_model.ts";
import { loadKerasModel } from "../graph/keras/load.ts";
import { saveLayersModel } from "../graph/keras/save.ts";
import { backend, engine, outputFolderExists, UsageError } from "./args.ts";
import {
  type Args,
  BACKEND_FLAG,
  CACHE_ENVIRONMENT,
  type CommandSpec,
  ENGINE_FLAG,
  LABELS_FLAG,
  THREADS_FLAG,
} from "./flags.ts";
import { locateModel, resolveBytes } from "../pipelines/resolve.ts";
import { DEFAULT_MODEL } from "../pipelines/bundled.ts";
import { readLabels } from "../pipelines/labels.ts";
import { toZooFile } from "../pipelines/provenance.ts";
import { fetchWeights } from "../hub/cache.ts";
import { readSource } from "../hub/source.ts";
import { writeAtomically } from "../formats/files.ts";
import { detectFormat } from "../formats/detect.ts";
import { readOnnx } from "../formats/onnx.ts";
import { createModel, type ZooModel } from "../runtime/model.ts";
import { createOrtSession, ortAvailable } from "../runtime/ort.ts";
import { type Engine, ortEngine, resolveEngine } from "../runtime/engine.ts";
import { tfjsEngineName } from "../runtime/backend.ts";
import {
  PARITY_TOLERANCE,
  parityHolds,
  type ReferenceRun,
  verifyImport,
} from "../runtime/parity.ts";
import { printWarnings, SHORTCUT_FLAG, shortcutChoice } from "./source_options.ts";
import { PRESETS } from "../arch/presets.ts";
import { PREPROCESS_PRESETS, type PreprocessSpec } from "../arch/preprocess.ts";
import { defaultPreprocess } from "../arch/defaults.ts";
import { type Calibration, WEIGHTS_DTYPES, type WeightsDType } from "../convert/quantize.ts";
import { calibrateOnFiles } from "../pipelines/quantize.ts";
import { provenance } from "../pipelines/provenance.ts";
import { expandImageArgs } from "../vision/paths.ts";
import { countParams } from "../arch/plan.ts";
import { classNames } from "../arch/labels.ts";
import { didYouMean } from "../arch/suggest.ts";
import { messageOf, ZooFormatError } from "../arch/errors.ts";

/**
 * `convert` on the command line: operands, flags, examples, environment.
 *
 * @example
 * ```ts
 * import { CONVERT } from "./convert.ts";
 * console.log(CONVERT.flags.find((f) => f.name === "arch")?.default); // auto
 * ```
 */
export const CONVERT = {
  name: "convert",
  brief: "weights to the zoo file, an ONNX export or a tfjs model",
  summary: "Convert weights to the zoo's own file (or an ONNX export) when they match a zoo " +
    "ResNet, found by the graph's structure; a Keras network outside the zoo becomes a tfjs " +
    "layers model in a folder.",
  operands: {
    name: "SRC",
    meaning: "a weights file (.pth/.pt/.th, .onnx, .h5/.keras, model.json, .safetensors), a " +
      "registry id or an architecture (its default weights, downloaded once)",
    min: 1,
    max: 1,
  },
  flags: [
    {
      name: "out",
      kind: "string",
      aliases: ["o"],
      value: "PATH",
      required: true,
      meaning: "FILE.safetensors (the zoo file), FILE.onnx (an ONNX export) or a folder (the " +
        "zoo file inside it; a tfjs layers model for a network outside the zoo). A file's " +
        "folder must exist; a new folder's name has no extension",
    },
    {
      name: "arch",
      kind: "string",
      value: "NAME",
      default: "auto",
      meaning: "auto matches the file's structure to a spec; a preset name (see the README's " +
        "table) forces that architecture and reports the first tensor that does not fit",
    },
    {
      ...LABELS_FLAG,
      defaultText: "what the source records, else a registry entry with the file's hash, else none",
      meaning:
        "class names to record in the zoo file or ONNX export, which classify then prints: " +
        "imagenet, " +
        "cifar10, or a file with a JSON array, an imagenet_class_index.json-style object or " +
        "one name per line; their number must be the model's number of classes",
    },
    SHORTCUT_FLAG,
    {
      name: "verify",
      kind: "boolean",
      meaning: "insist on running the ONNX source in onnxruntime beside the converted model " +
        "(refused for other sources). Without it, a source that runs (ONNX in onnxruntime, else " +
        "its own graph; a Keras model with its graph) is checked anyway; a state dict cannot be",
    },
    {
      name: "no-verify",
      kind: "boolean",
      meaning: "write the conversion without running the source beside it",
    },
    {
      name: "dtype",
      kind: "string",
      value: "TYPE",
      choices: WEIGHTS_DTYPES,
      default: "float32",
      meaning: "the weights' precision in the zoo file: float16 (half the size, computed in " +
        "float32) or int8 (conv and dense kernels per output channel, a quarter the size); an " +
        "ONNX export is float32, or int8 with --calibrate",
    },
    {
      name: "calibrate",
      kind: "string",
      value: "IMAGES",
      meaning: "with --dtype int8: images to measure the activation ranges on (an image, a " +
        "folder or a quoted glob), which makes the file run in int8 on onnxruntime. Use images " +
        "like the ones the model will see, not the ones you evaluate it on",
    },
    {
      name: "preprocess",
      kind: "string",
      value: "NAME",
      choices: Object.keys(PREPROCESS_PRESETS),
      defaultText: "what the registry entry with the file's hash records, else the family's",
      meaning: "resizing and scaling of the calibration images",
    },
    {
      ...ENGINE_FLAG,
      meaning: "what runs the converted model in the verification (so refused with " +
        "--no-verify): tfjs on --backend, or onnxruntime on the model's own ONNX export, the " +
        "graph an .onnx output holds; auto takes tfjs-webgpu on a hardware GPU, else " +
        "onnxruntime, else tfjs",
    },
    {
      ...BACKEND_FLAG,
      meaning: "the tfjs backend the verification runs the converted model on with --engine tfjs",
    },
    THREADS_FLAG,
  ],
  examples: [
    "denozoo convert resnet20-12fca82f.th --out r20.safetensors",
    "denozoo convert model.onnx --out model.onnx --verify --engine onnxruntime --labels names.txt",
    "denozoo convert resnet50 --out r50.int8.safetensors --dtype int8 --calibrate photos/",
  ],
  env: CACHE_ENVIRONMENT,
} as const satisfies CommandSpec;

/** Where `--out` leads: a file convert can write, or a folder (existing, or new in one). */
async function outputTarget(out: string): Promise<{ path: string; folder: boolean }> {
  if (/\.(safetensors|onnx)$/.test(out)) {
    await outputFolderExists(out, "out");
    return { path: out, folder: false };
  }
  const info = await Deno.stat(out).catch((error) => {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  });
  if (info?.isDirectory) return { path: out, folder: true };
  const extension = /\.([^./]+)$/.exec(out.replace(/\/+$/, ""))?.[1];
  if (info || extension) {
    throw new UsageError(
      `--out ${out}: convert writes FILE.safetensors (the zoo file), FILE.onnx (an ONNX ` +
        `export) or a folder${extension ? `, not a .${extension} file` : ""}`,
    );
  }
  await outputFolderExists(out, "out");
  return { path: out, folder: true };
}

/**
 * The file SRC names: a registry entry's verified download (fetched once) and the bundled
 * model's file, or the file itself. Convert reads the source, not the cache's converted copy,
 * so that the zoo file records where its weights came from.
 */
async function sourceFile(name: string): Promise<string> {
  const location = await locateModel(name);
  if (location.kind === "registry") return await fetchWeights(location.entry, { progress: true });
  if (location.kind === "file") return location.path;
  if (DEFAULT_MODEL.protocol !== "file:") {
    throw new UsageError(
      `${name} is bundled inside the package at ${DEFAULT_MODEL}; convert a file`,
    );
  }
  return decodeURIComponent(DEFAULT_MODEL.pathname);
}

/**
 * Runs `convert`.
 *
 * @example
 * ```ts
 * import { parseCommand } from "./args.ts";
 * const out = await Deno.makeTempFile({ suffix: ".safetensors" });
 * await convert(parseCommand(CONVERT, ["testdata/cifar10-resnet/resnet20-12fca82f.th", "--out", out]));
 * // source format: pytorch-legacy
 * // architecture:  cifar_resnet20
 * // parameters:    269,722 trainable, 271,098 in all
 * // read:          weights from checkpoint['state_dict'], 'module.' stripped from every key; …
 * // (stderr) warning: the file records no strides: …
 * // (stderr) warning: option-A shortcuts carry no weights, …
 * // wrote … (1,093,800 bytes): the graph matches a zoo spec
 * await Deno.remove(out);
 * ```
 */
export async function convert(args: Args<typeof CONVERT>): Promise<void> {
  const target = await outputTarget(args.out);
  if (args.arch !== "auto" && !Object.hasOwn(PRESETS, args.arch)) {
    throw new UsageError(
      `--arch must be auto or a preset name, got '${args.arch}'` +
        didYouMean(args.arch, Object.keys(PRESETS)),
    );
  }
  const arch = args.arch === "auto" ? undefined : PRESETS[args.arch];
  const labels = args.labels === undefined ? undefined : await readLabels(args.labels);
  if (args.verify && args["no-verify"]) {
    throw new UsageError("--verify and --no-verify contradict each other: give one");
  }
  // Refused rather than ignored: whoever names an engine expects the conversion checked on it,
  // and a quiet --no-verify would leave them believing it was.
  if (args.engine !== undefined && args["no-verify"]) {
    throw new UsageError(
      "--engine picks what runs the converted model in the verification, which --no-verify skips: give one",
    );
  }
  if (args.verify && !(await ortAvailable())) {
    throw new Error("--verify needs npm:onnxruntime-node, which could not load here");
  }
  const dtype = args.dtype as WeightsDType;
  if (args.calibrate === undefined && args.operands.length > 1) {
    throw new UsageError(
      `convert takes one SRC; '${
        args.operands[1]
      }' follows it (only --calibrate takes more images)`,
    );
  }
  if (args.calibrate !== undefined && dtype !== "int8") {
    throw new UsageError("--calibrate needs --dtype int8");
  }
  if (dtype === "float16" && target.path.endsWith(".onnx")) {
    throw new UsageError(
      "an ONNX export is float32 or int8 (QDQ); --dtype float16 is for zoo files",
    );
  }
  await backend(args, false);
  // Resolved before the source is read, so that an onnxruntime that cannot load fails at once.
  const verifyOn = args["no-verify"] ? "tfjs" : await resolveEngine(engine(args));
  const source = await sourceFile(args.operands[0]);
  const { bytes, sha256 } = await readSource(source);
  const format = detectFormat(bytes, source);
  if (args.verify && format !== "onnx") {
    throw new UsageError(
      `--verify needs an ONNX source (it runs the source in onnxruntime); ${source} is ${format}`,
    );
  }
  const resolved = await resolveBytes(bytes, source, {
    arch,
    shortcut: shortcutChoice(args.shortcut),
  });
  if (resolved.kind === "graph") {
    if (args.engine !== undefined) {
      throw new UsageError(
        `--engine picks what runs a converted zoo model in the verification; ${source} is ` +
          `no zoo ResNet (${resolved.reason.message.replace(`${source}: `, "")}), so it ` +
          `becomes a tfjs layers model, which nothing verifies`,
      );
    }
    if (labels !== undefined) {
      throw new UsageError(
        `--labels is recorded in zoo files and ONNX exports; ${source} is no zoo ResNet (${resolved.reason.message})`,
      );
    }
    await convertGraph(bytes, source, target, resolved.reason.message);
    return;
  }
  const imported = resolved.model;
  if (args.engine !== undefined && !imported.sourceLayout) {
    throw new UsageError(
      `--engine picks what runs the converted model in the verification; ${source} holds ` +
        `weights without a graph (${imported.format}), so nothing runs beside it`,
    );
  }
  if (labels !== undefined) classNames(labels, imported.spec.classes);
  const model = createModel(imported.spec, { weights: imported.weights });
  const counts = countParams(model.plan);
  console.log(`source format: ${imported.format}`);
  console.log(`architecture:  ${imported.spec.name}`);
  console.log(
    `parameters:    ${counts.trainable.toLocaleString("en-US")} trainable, ${
      counts.total.toLocaleString("en-US")
    } in all`,
  );
  for (const note of imported.notes ?? []) console.log(`read:          ${note}`);
  printWarnings(imported.assumptions);
  // A folder gets the zoo file: the graph matched a zoo spec, so its weights are all it needs.
  const path = target.folder ? `${target.path}/${imported.spec.name}.safetensors` : target.path;
  // Checked before anything is written: a model that disagrees never gets the output's name.
  if (!args["no-verify"]) {
    await verify(bytes, source, imported, model, path, { required: args.verify, on: verifyOn });
  }
  if (target.folder) await Deno.mkdir(target.path, { recursive: true });
  // A zoo file passes on what it records; for other files, provenance finds what it can (what
  // an ONNX export records, or a registry entry with the file's hash).
  const recorded = imported.format === "zoo-safetensors"
    ? await resolved.info()
    : await provenance(bytes, source, imported, { sha256 });
  const calibration = await calibrate(args, model, recorded.preprocess);
  if (dtype !== "float32") {
    const activations = dtype !== "int8"
      ? ""
      : calibration
      ? `, activations calibrated on ${calibration.images} images (onnxruntime runs it in int8)`
      : " kernels; no --calibrate, so activations stay float32";
    console.log(`weights:       ${dtype}${activations}`);
  }
  const written = path.endsWith(".onnx")
    ? await exportOnnx(model.plan, model.weights, {
      calibration,
      preprocess: recorded.preprocess,
      labels: labels ?? recorded.labels,
    })
    : await toZooFile(bytes, source, imported, {
      sha256,
      preprocess: recorded.preprocess,
      labels: labels ?? recorded.labels,
      dtype,
      calibration,
    });
  const size = await writeAtomically(path, written);
  console.log(
    `wrote ${path} (${size.toLocaleString("en-US")} bytes): the graph matches a zoo spec`,
  );
  model.dispose();
}

/**
 * `--calibrate IMAGES` (an image, a folder or a glob): the int8 activation ranges on those
 * images, preprocessed as `--preprocess`, the source records, its registry entry says, or its
 * family's default.
 */
async function calibrate(
  args: Args<typeof CONVERT>,
  model: ZooModel,
  recorded: PreprocessSpec | undefined,
): Promise<Calibration | undefined> {
  if (args.calibrate === undefined) return undefined;
  const files = await expandImageArgs([args.calibrate]);
  const preprocess = args.preprocess !== undefined
    ? PREPROCESS_PRESETS[args.preprocess]
    : recorded ?? defaultPreprocess(model.spec);
  if (!(await ortAvailable())) {
    throw new Error("--calibrate needs npm:onnxruntime-node, which could not load here");
  }
  return await calibrateOnFiles(model.plan, model.weights, files, preprocess);
}

/** A network that is no zoo ResNet: Keras models become a tfjs layers model in a folder. */
async function convertGraph(
  bytes: Uint8Array,
  source: string,
  target: { path: string; folder: boolean },
  reason: string,
): Promise<void> {
  const why = reason.replace(`${source}: `, "");
  if (detectFormat(bytes, source) === "onnx") {
    throw new ZooFormatError(
      source,
      `${why}. ONNX graphs outside the zoo run as they are: pass the .onnx file to predict or classify`,
    );
  }
  if (!target.folder) {
    throw new UsageError(
      `${source} is not a zoo ResNet (${why}); give --out a folder for a tfjs layers model`,
    );
  }
  const out = target.path;
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
 * The source run as it is, to check the conversion against: an ONNX file in onnxruntime (else
 * its own graph on tfjs, where the native addon does not load), a Keras model as its own graph.
 * Undefined for a file that holds only weights, or the zoo's own file.
 */
async function sourceRun(
  bytes: Uint8Array,
  source: string,
  imported: ImportedModel,
): Promise<ReferenceRun | undefined> {
  const layout = imported.sourceLayout;
  if (!layout) return undefined;
  if (imported.format === "onnx" && await ortAvailable()) {
    const session = await createOrtSession(source);
    return {
      name: "onnxruntime",
      layout,
      declared: (await readOnnx(bytes, source)).graph.inputs[0]?.shape ?? [],
      run: async (input, shape) => (await session.run(input, shape)).data,
      dispose: () => session.dispose(),
    };
  }
  const graph = await loadGraphModel(bytes, source);
  return {
    name: "its own graph on tfjs",
    layout,
    declared: graph.inputShape,
    run: async (input, shape) => {
      const x = tf.tensor(input, shape);
      const y = graph.predict(x);
      const data = (await y.data()) as Float32Array;
      tf.dispose([x, y]);
      return data;
    },
    dispose: () => graph.dispose(),
  };
}

/**
 * Checks the converted model against the source run as it is (see `verifyImport`), before
 * anything is written: the converted model runs `on` tfjs (the backend `convert` already
 * started) or onnxruntime (its own ONNX export), and a conversion that disagrees is refused
 * with the difference. A source with a graph that does not run here is skipped with the
 * reason, unless `--verify` insists (`required`).
 */
async function verify(
  bytes: Uint8Array,
  source: string,
  imported: ImportedModel,
  model: ZooModel,
  target: string,
  options: { required: boolean; on: "tfjs" | "onnxruntime" },
): Promise<void> {
  const { required, on } = options;
  let reference: ReferenceRun | undefined;
  try {
    reference = await sourceRun(bytes, source, imported);
  } catch (error) {
    if (required) throw error;
    console.log(`verify:        skipped, the source does not run here: ${messageOf(error)}`);
    return;
  }
  if (!reference) return;
  let parity;
  let converted: Engine | undefined;
  try {
    // One image: the faster-loading optimisation level suits it (see OrtSessionOptions).
    converted = on === "onnxruntime"
      ? await ortEngine(model, { optimization: "extended" })
      : undefined;
    parity = await verifyImport(model, reference, converted);
  } finally {
    await converted?.dispose();
    await reference.dispose?.();
  }
  const summary =
    `max abs diff ${parity.maxAbsDiff.toExponential(2)} (relative ${
      parity.relativeError.toExponential(2)
    }), top-1 agreement ${parity.top1Agreement}/${parity.batch} against ${reference.name} ` +
    `(converted model on ${converted?.name ?? tfjsEngineName()})`;
  console.log(`verify: ${summary}`);
  if (!parityHolds(parity)) {
    throw new Error(
      `${source}: refusing to write ${target}: the converted model disagrees with the source ` +
        `(${summary}; the limit is ${PARITY_TOLERANCE} relative). Run the source as its own ` +
        `graph instead (predict --weights ${source}, classify --model ${source}), or write the ` +
        `conversion anyway with --no-verify`,
    );
  }
}
