/**
 * `convert SRC --out FILE.safetensors|FILE.onnx|FOLDER [--arch auto|NAME] [--labels SET|FILE]
 * [--verify]`: a weights file to the zoo's own file (or an ONNX export) when it matches a zoo
 * spec, else a Keras network to a tfjs layers model in a folder. `--verify` runs an ONNX
 * source in onnxruntime and checks the import against it before anything is written.
 *
 * @example
 * ```ts
 * import { convert, CONVERT } from "./convert.ts";
 * import { parseCommand } from "./args.ts";
 * const dir = await Deno.makeTempDir();
 * await convert(parseCommand(CONVERT, ["testdata/fixtures/nets/tv_basic.onnx", "--out", dir, "--verify"]));
 * // source format: onnx … verify: … top-1 agreement 2/2 … wrote <dir>/resnet12_custom.safetensors …
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */

import { exportOnnx } from "../convert/onnx_export.ts";
import { loadKerasModel } from "../graph/keras/load.ts";
import { saveLayersModel } from "../graph/keras/save.ts";
import { backend, outputFolderExists, UsageError } from "./args.ts";
import {
  type Args,
  BACKEND_FLAG,
  CACHE_ENVIRONMENT,
  type CommandSpec,
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
import { createModel, type ZooModel } from "../runtime/model.ts";
import { ortAvailable } from "../runtime/ort.ts";
import { parityHolds, verifyOnnxImport } from "../runtime/parity.ts";
import { PRESETS } from "../arch/presets.ts";
import { countParams } from "../arch/plan.ts";
import { classNames } from "../arch/labels.ts";
import { didYouMean } from "../arch/suggest.ts";
import { ZooFormatError } from "../arch/errors.ts";

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
      defaultText: "what a registry entry with the file's hash records, else none",
      meaning: "class names to record in the zoo file, which classify then prints: imagenet, " +
        "cifar10, or a file with a JSON array, an imagenet_class_index.json-style object or " +
        "one name per line; their number must be the model's number of classes",
    },
    {
      name: "verify",
      kind: "boolean",
      meaning: "run the ONNX source in onnxruntime and the converted model on tfjs on the " +
        "same input, and write nothing unless their logits agree",
    },
    { ...BACKEND_FLAG, meaning: "the tfjs backend that --verify runs the converted model on" },
    THREADS_FLAG,
  ],
  examples: [
    "denozoo convert resnet20-12fca82f.th --out r20.safetensors",
    "denozoo convert model.onnx --out model.safetensors --verify --labels names.txt",
    "denozoo convert resnet50 --out resnet50.onnx     # resnet50.tv2_in1k, exported to ONNX",
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
 * // wrote … (1,093,744 bytes): the graph matches a zoo spec
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
  if (labels !== undefined && target.path.endsWith(".onnx")) {
    throw new UsageError("--labels is recorded in zoo files (.safetensors), not in ONNX exports");
  }
  if (args.verify && !(await ortAvailable())) {
    throw new Error("--verify needs npm:onnxruntime-node, which could not load here");
  }
  await backend(args, false);
  const source = await sourceFile(args.operands[0]);
  const { bytes, sha256 } = await readSource(source);
  const format = detectFormat(bytes, source);
  if (args.verify && format !== "onnx") {
    throw new UsageError(
      `--verify needs an ONNX source (it runs the source in onnxruntime); ${source} is ${format}`,
    );
  }
  const resolved = await resolveBytes(bytes, source, { arch });
  if (resolved.kind === "graph") {
    if (labels !== undefined) {
      throw new UsageError(
        `--labels is recorded in zoo files; ${source} is no zoo ResNet (${resolved.reason.message})`,
      );
    }
    await convertGraph(bytes, source, target, resolved.reason.message);
    return;
  }
  const imported = resolved.model;
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
  // Checked before anything is written: a model that disagrees never gets the output's name.
  if (args.verify) await verify(bytes, source, model);
  // A folder gets the zoo file: the graph matched a zoo spec, so its weights are all it needs.
  const path = target.folder ? `${target.path}/${imported.spec.name}.safetensors` : target.path;
  if (target.folder) await Deno.mkdir(target.path, { recursive: true });
  // A zoo file passes on what it records; for other files, provenance finds what it can.
  const recorded = imported.format === "zoo-safetensors" ? await resolved.info() : {};
  const written = path.endsWith(".onnx")
    ? await exportOnnx(model.plan, model.weights)
    : await toZooFile(bytes, source, imported, {
      sha256,
      preprocess: recorded.preprocess,
      labels: labels ?? recorded.labels,
    });
  const size = await writeAtomically(path, written);
  console.log(
    `wrote ${path} (${size.toLocaleString("en-US")} bytes): the graph matches a zoo spec`,
  );
  model.dispose();
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
 * `--verify`: the ONNX source in onnxruntime against the converted model (see
 * `verifyOnnxImport`), on the backend `convert` already started; the one check a conversion
 * passes before its output is written.
 */
async function verify(bytes: Uint8Array, source: string, model: ZooModel): Promise<void> {
  const parity = await verifyOnnxImport(bytes, source, model);
  console.log(
    `verify: max abs diff ${parity.maxAbsDiff.toExponential(2)} (relative ${
      parity.relativeError.toExponential(2)
    }), ` +
      `top-1 agreement ${parity.top1Agreement}/${parity.batch} against onnxruntime`,
  );
  if (!parityHolds(parity)) {
    throw new Error("verification failed: the converted model disagrees; nothing was written");
  }
}
