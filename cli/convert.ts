/**
 * `convert SRC --out FILE.safetensors|FILE.onnx|FOLDER [--arch auto|NAME] [--verify]`: a
 * weights file to the zoo's own file (or an ONNX export) when it matches a zoo spec, else a
 * Keras network to a tfjs layers model in a folder. `--verify` runs an ONNX source in
 * onnxruntime and checks the import against it.
 *
 * @example
 * ```ts
 * import { convert } from "./convert.ts";
 * import { parseArgv } from "./args.ts";
 * const dir = await Deno.makeTempDir();
 * await convert(parseArgv(["convert", "testdata/fixtures/nets/tv_basic.onnx", "--out", dir, "--verify"]));
 * // source format: onnx … wrote <dir>/resnet12_custom.safetensors … verify: … top-1 agreement 2/2 …
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */

import { exportOnnx } from "../convert/onnx_export.ts";
import { loadKerasModel } from "../graph/keras/load.ts";
import { saveLayersModel } from "../graph/keras/save.ts";
import { type Args, backend, engine, option, UsageError } from "./args.ts";
import type { EngineChoice } from "../runtime/engine.ts";
import { resolveBytes } from "../pipelines/resolve.ts";
import { toZooFile } from "../pipelines/provenance.ts";
import { readSource } from "../hub/source.ts";
import { writeAtomically } from "../formats/files.ts";
import { detectFormat } from "../formats/detect.ts";
import { createModel, type ZooModel } from "../runtime/model.ts";
import { ortAvailable } from "../runtime/ort.ts";
import { parityHolds, verifyOnnxImport } from "../runtime/parity.ts";
import { getSpec } from "../arch/presets.ts";
import { countParams } from "../arch/plan.ts";
import { ZooFormatError } from "../arch/errors.ts";

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
 * // wrote … (1,093,744 bytes): the graph matches a zoo spec
 * await Deno.remove(out);
 * ```
 */
export async function convert(args: Args): Promise<void> {
  const source = String(args._[1] ?? "");
  if (!source) throw new UsageError("convert needs a source file");
  const out = option(args, "out");
  const arch = args.arch && args.arch !== "auto" ? getSpec(args.arch) : undefined;
  await backend(args, false);
  const { bytes, sha256 } = await readSource(source);
  const resolved = await resolveBytes(bytes, source, { arch });
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
  // A folder gets the zoo file: the graph matched a zoo spec, so its weights are all it needs.
  const target = /\.(safetensors|onnx)$/.test(out)
    ? out
    : `${out}/${imported.spec.name}.safetensors`;
  if (target !== out) await Deno.mkdir(out, { recursive: true });
  const written = target.endsWith(".onnx")
    ? await exportOnnx(model.plan, model.weights)
    : await toZooFile(bytes, source, imported, { sha256 });
  const size = await writeAtomically(target, written);
  console.log(
    `wrote ${target} (${size.toLocaleString("en-US")} bytes): the graph matches a zoo spec`,
  );
  if (args.verify) {
    // The imported model runs on tfjs unless --engine says otherwise.
    await verify(bytes, source, imported.format, model, args.engine ? engine(args) : "tfjs");
  }
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
 * `--verify`: the ONNX source in onnxruntime against the converted model (see
 * `verifyOnnxImport`), on the backend `convert` already started.
 */
async function verify(
  bytes: Uint8Array,
  source: string,
  format: string,
  model: ZooModel,
  choice: EngineChoice,
): Promise<void> {
  if (format !== "onnx") {
    throw new UsageError("--verify needs an ONNX source (it runs the source in onnxruntime)");
  }
  if (!(await ortAvailable())) {
    throw new Error("--verify needs npm:onnxruntime-node, which could not load here");
  }
  const parity = await verifyOnnxImport(bytes, source, model, choice);
  console.log(
    `verify: max abs diff ${parity.maxAbsDiff.toExponential(2)} (relative ${
      parity.relativeError.toExponential(2)
    }), ` +
      `top-1 agreement ${parity.top1Agreement}/${parity.batch} against onnxruntime` +
      (choice === "tfjs" ? "" : ` (the converted model on ${choice})`),
  );
  if (!parityHolds(parity)) {
    throw new Error("verification failed: the converted model disagrees");
  }
}
