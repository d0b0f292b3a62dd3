/**
 * `convert SRC --out FILE.safetensors|FILE.onnx|FOLDER [--arch auto|NAME] [--shortcut VARIANT]
 * [--verify|--no-verify]`: a weights file to the zoo's own file (or an ONNX export) when it
 * matches a zoo spec, else a Keras network to a tfjs layers model in a folder. A source that
 * runs (an ONNX file in onnxruntime, a Keras model as its own graph) is run beside the
 * converted model on a small input before anything is written, and a disagreement is refused;
 * `--no-verify` skips that, `--verify` insists on it.
 *
 * @example
 * ```ts
 * import { convert } from "./convert.ts";
 * import { parseArgv } from "./args.ts";
 * const dir = await Deno.makeTempDir();
 * await convert(parseArgv(["convert", "testdata/fixtures/nets/tv_basic.onnx", "--out", dir, "--verify"]));
 * // source format: onnx … verify: … top-1 agreement 2/2 against onnxruntime … wrote <dir>/resnet12_custom.safetensors …
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import { exportOnnx } from "../convert/onnx_export.ts";
import type { ImportedModel } from "../convert/import.ts";
import { loadKerasModel } from "../graph/keras/load.ts";
import { saveLayersModel } from "../graph/keras/save.ts";
import { loadGraphModel } from "../graph/graph_model.ts";
import { type Args, backend, option, UsageError } from "./args.ts";
import { printWarnings, shortcutOption } from "./source_options.ts";
import { resolveBytes } from "../pipelines/resolve.ts";
import { toZooFile } from "../pipelines/provenance.ts";
import { readSource } from "../hub/source.ts";
import { writeAtomically } from "../formats/files.ts";
import { detectFormat } from "../formats/detect.ts";
import { readOnnx } from "../formats/onnx.ts";
import { createModel, type ZooModel } from "../runtime/model.ts";
import { createOrtSession, ortAvailable } from "../runtime/ort.ts";
import {
  PARITY_TOLERANCE,
  parityHolds,
  type ReferenceRun,
  verifyImport,
} from "../runtime/parity.ts";
import { getSpec } from "../arch/presets.ts";
import { countParams } from "../arch/plan.ts";
import { messageOf, ZooFormatError } from "../arch/errors.ts";

/**
 * Runs `convert`.
 *
 * @example
 * ```ts
 * import { parseArgv } from "./args.ts";
 * const out = await Deno.makeTempFile({ suffix: ".safetensors" });
 * await convert(parseArgv(["convert", "testdata/cifar10-resnet/resnet20-12fca82f.th", "--out", out]));
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
export async function convert(args: Args): Promise<void> {
  const source = String(args._[1] ?? "");
  if (!source) throw new UsageError("convert needs a source file");
  const out = option(args, "out");
  const arch = args.arch && args.arch !== "auto" ? getSpec(args.arch) : undefined;
  const shortcut = shortcutOption(args);
  // Verified by default where the source runs; --verify insists, --no-verify skips.
  const verifying = (args as Record<string, unknown>)["no-verify"]
    ? "off"
    : args.verify
    ? "required"
    : "auto";
  await backend(args, false);
  const { bytes, sha256 } = await readSource(source);
  const resolved = await resolveBytes(bytes, source, { arch, shortcut });
  if (resolved.kind === "graph") {
    await convertGraph(bytes, source, out, resolved.reason.message);
    return;
  }
  const imported = resolved.model;
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
  const target = /\.(safetensors|onnx)$/.test(out)
    ? out
    : `${out}/${imported.spec.name}.safetensors`;
  if (verifying !== "off") {
    await verify(bytes, source, imported, model, target, verifying === "required");
  }
  if (target !== out) await Deno.mkdir(out, { recursive: true });
  const written = target.endsWith(".onnx")
    ? await exportOnnx(model.plan, model.weights)
    : await toZooFile(bytes, source, imported, { sha256 });
  const size = await writeAtomically(target, written);
  console.log(
    `wrote ${target} (${size.toLocaleString("en-US")} bytes): the graph matches a zoo spec`,
  );
  model.dispose();
}

/** A network that is no zoo ResNet: Keras models become a tfjs layers model in a folder. */
async function convertGraph(
  bytes: Uint8Array,
  source: string,
  out: string,
  reason: string,
): Promise<void> {
  const why = reason.replace(`${source}: `, "");
  if (detectFormat(bytes, source) === "onnx") {
    throw new ZooFormatError(
      source,
      `${why}. ONNX graphs outside the zoo run as they are: pass the .onnx file to predict or classify`,
    );
  }
  if (/\.(safetensors|onnx)$/.test(out)) {
    throw new UsageError(
      `${source} is not a zoo ResNet (${why}); give --out a folder for a tfjs layers model`,
    );
  }
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
 * its own graph on tfjs, where the native addon does not load), a Keras model as its own
 * graph. Undefined for a file that holds only weights.
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
    const declared = (await readOnnx(bytes, source)).graph.inputs[0]?.shape ?? [];
    return {
      name: "onnxruntime",
      layout,
      declared,
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
 * Checks the converted model against the source run as it is, on the backend `convert` already
 * started, before anything is written: a conversion that disagrees is refused with the
 * difference. `required` (`--verify`) makes a source that cannot run an error; by default it
 * is skipped, with the reason where the source has a graph that did not load.
 */
async function verify(
  bytes: Uint8Array,
  source: string,
  imported: ImportedModel,
  model: ZooModel,
  target: string,
  required: boolean,
): Promise<void> {
  let reference: ReferenceRun | undefined;
  try {
    reference = await sourceRun(bytes, source, imported);
  } catch (error) {
    if (required) throw error;
    console.log(`verify:        skipped, the source does not run here: ${messageOf(error)}`);
    return;
  }
  if (!reference) {
    if (!required) return;
    throw new UsageError(
      `--verify needs an ONNX source or a Keras model with its graph (it runs the source as it ` +
        `is); a ${imported.format} file holds only weights`,
    );
  }
  let parity;
  try {
    parity = await verifyImport(model, reference);
  } finally {
    await reference.dispose?.();
  }
  const summary = `max abs diff ${parity.maxAbsDiff.toExponential(2)} (relative ${
    parity.relativeError.toExponential(2)
  }), top-1 agreement ${parity.top1Agreement}/${parity.batch} against ${reference.name}`;
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
