/**
 * Registry weights on this machine: downloaded and verified (`hub/cache.ts`), converted once
 * to the zoo's own file in the cache, and for onnxruntime exported once more beside it, so
 * later runs start from files that need no conversion.
 *
 * Cache layout under `cacheDir()`: `models/<id>.safetensors` (the zoo file), and beside it
 * `<id>.safetensors.nchw.onnx` with its weights in `<id>.safetensors.nchw.onnx.data` (see
 * `hub/cache_files.ts`).
 *
 * @example
 * ```ts
 * import { pullWeights } from "./pull.ts";
 * Deno.env.set("DENOZOO_HOME", await Deno.makeTempDir());
 * Deno.env.set("DENOZOO_OFFLINE", "1");
 * await pullWeights("resnet50.tv2_in1k").catch((error) => console.log(error.message));
 * // DENOZOO_OFFLINE is set and resnet50-11ad3fa6.pth (resnet50.tv2_in1k) is not in the cache; …
 * Deno.env.delete("DENOZOO_OFFLINE");
 * ```
 *
 * @module
 */

import { exportOnnxWithExternalData } from "../convert/onnx_export.ts";
import { readSource } from "../hub/source.ts";
import { importBytes } from "../convert/import.ts";
import { readZooHeader, readZooWeights } from "../convert/zoofile.ts";
import { readWholeFile, writeAtomically } from "../formats/files.ts";
import { planResNet } from "../arch/plan.ts";
import { PREPROCESS_PRESETS } from "../arch/preprocess.ts";
import { findWeights, type WeightsEntry } from "../hub/registry.ts";
import { fetchWeights } from "../hub/cache.ts";
import { cachedFiles, onnxExportPath } from "../hub/cache_files.ts";
import { toZooFile } from "./provenance.ts";

/**
 * Options of {@link pullWeights}.
 *
 * @example
 * ```ts
 * import { REGISTRY } from "../hub/registry.ts";
 * import type { PullOptions } from "./pull.ts";
 * const options: PullOptions = { progress: true, registry: REGISTRY };
 * console.log(options.registry === REGISTRY); // true
 * ```
 */
export interface PullOptions {
  /** Draw a download progress bar on stderr. */
  progress?: boolean;
  /** Where ids are looked up (default: the built-in `REGISTRY`), e.g. with private entries. */
  registry?: readonly WeightsEntry[];
}

/**
 * The zoo file of a registry entry: downloaded and converted once, then reused.
 *
 * @example
 * ```ts
 * import { cachedPath } from "../hub/cache.ts";
 * import { findWeights, type WeightsEntry } from "../hub/registry.ts";
 * Deno.env.set("DENOZOO_HOME", await Deno.makeTempDir());
 * // A file dropped into the cache is verified against the registry's hash, not downloaded.
 * const download = cachedPath(findWeights("cifar_resnet20.cifar10"));
 * await Deno.mkdir(download.slice(0, download.lastIndexOf("/")), { recursive: true });
 * await Deno.copyFile("testdata/cifar10-resnet/resnet20-12fca82f.th", download);
 * const path = await pullWeights("cifar_resnet20.cifar10");
 * console.log(path.endsWith("/models/cifar_resnet20.cifar10.safetensors")); // true
 * ```
 */
export async function pullWeights(id: string, options: PullOptions = {}): Promise<string> {
  const entry = findWeights(id, options.registry);
  const converted = cachedFiles(entry).converted;
  try {
    await readZooHeader(converted);
    return converted;
  } catch {
    // Missing or damaged: (re)convert from the verified download below.
  }
  const downloaded = await fetchWeights(entry, { progress: options.progress });
  const { bytes, sha256 } = await readSource(downloaded);
  const imported = await importBytes(bytes, downloaded);
  await Deno.remove(onnxExportPath(converted)).catch(() => {});
  await Deno.remove(`${onnxExportPath(converted)}.data`).catch(() => {});
  await writeAtomically(
    converted,
    await toZooFile(bytes, downloaded, imported, {
      preprocess: PREPROCESS_PRESETS[entry.preprocess],
      labels: entry.labels,
      sha256,
      dtype: entry.dtype,
    }),
  );
  return converted;
}

/**
 * The NCHW ONNX export of a zoo file (an int8 graph where the file is int8 with a calibration,
 * recording the file's preprocessing and class names), cached beside it with its weights in an external data file that onnxruntime maps from disk:
 * written on first use, so later runs read only the zoo file's header and onnxruntime opens the
 * rest itself.
 *
 * @example
 * ```ts
 * const dir = await Deno.makeTempDir();
 * await Deno.copyFile("models/cifar_resnet20.safetensors", `${dir}/m.safetensors`);
 * const onnx = await cachedOnnxExport(`${dir}/m.safetensors`);
 * console.log(onnx.endsWith("m.safetensors.nchw.onnx")); // true
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function cachedOnnxExport(zooFile: string): Promise<string> {
  const onnxPath = onnxExportPath(zooFile);
  const dataPath = `${onnxPath}.data`;
  const exists = (file: string) => Deno.stat(file).then(() => true, () => false);
  if (!(await exists(onnxPath) && await exists(dataPath))) {
    const file = readZooWeights(await readWholeFile(zooFile), zooFile);
    const { model, data } = await exportOnnxWithExternalData(
      planResNet(file.spec),
      file.weights,
      dataPath.slice(dataPath.lastIndexOf("/") + 1),
      { calibration: file.calibration, preprocess: file.preprocess, labels: file.labels },
    );
    // The data first: a model file in the cache means both are complete.
    await writeAtomically(dataPath, data);
    await writeAtomically(onnxPath, model);
  }
  return onnxPath;
}
