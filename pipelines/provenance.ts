/**
 * Where converted weights came from, recorded in the zoo file written from them: the source
 * file's name, SHA-256 and format, and the preprocessing and labels the file records itself (an
 * ONNX export the zoo wrote) or, when a registry entry publishes the file's hash, that entry's,
 * so a converted checkpoint classifies as it was trained.
 *
 * @example
 * ```ts
 * import { importBytes } from "../convert/import.ts";
 * import { provenance } from "./provenance.ts";
 * const path = "testdata/cifar10-resnet/resnet20-12fca82f.th";
 * const bytes = await Deno.readFile(path);
 * const info = await provenance(bytes, path, await importBytes(bytes, path));
 * console.log(info.labels, info.preprocess?.size); // "cifar10" [32, 32]
 * ```
 *
 * @module
 */

import type { ImportedModel } from "../convert/import.ts";
import { type ZooFileInfo, zooWeightsChunks } from "../convert/zoofile.ts";
import type { FileChunk } from "../formats/files.ts";
import type { Labels } from "../arch/labels.ts";
import { PREPROCESS_PRESETS, type PreprocessSpec } from "../arch/preprocess.ts";
import { hashBytes } from "../hub/hash.ts";
import { REGISTRY } from "../hub/registry.ts";
import type { Calibration, WeightsDType } from "../convert/quantize.ts";

/** What a caller already knows about a converted file (else it comes from the registry). */
export interface ProvenanceInfo {
  /** Preprocessing to record. */
  preprocess?: PreprocessSpec;
  /** Class names to record: a label set the zoo knows, or the names themselves. */
  labels?: Labels;
  /** The file's SHA-256 when already being computed (see `readSource`). */
  sha256?: Promise<string>;
  /** The precision to store the weights in (default float32). */
  dtype?: WeightsDType;
  /** For int8: the activation ranges to record (see `calibrateOnFiles`). */
  calibration?: Calibration;
}

/**
 * Provenance of an imported file. Preprocessing and labels are the caller's, else what the file
 * records (`imported.usage`), else those of a registry entry whose published hash matches the
 * file's bytes.
 *
 * @example
 * ```ts
 * import { importBytes } from "../convert/import.ts";
 * const path = "testdata/cifar10-resnet/resnet20-12fca82f.th";
 * const bytes = await Deno.readFile(path);
 * const info = await provenance(bytes, path, await importBytes(bytes, path));
 * console.log(info.source, info.sourceFormat); // "resnet20-12fca82f.th" "pytorch-legacy"
 * ```
 */
export async function provenance(
  bytes: Uint8Array,
  source: string,
  imported: ImportedModel,
  info: ProvenanceInfo = {},
): Promise<ZooFileInfo> {
  const sha256 = await (info.sha256 ?? hashBytes(bytes, "sha256"));
  const md5 = imported.format === "keras-h5" ? hashBytes(bytes, "md5") : "";
  const entry = REGISTRY.find((e) => {
    const expected = e.hash.value.toLowerCase();
    return e.hash.algorithm === "md5" ? md5 === expected : sha256.startsWith(expected);
  });
  return {
    preprocess: info.preprocess ?? imported.usage?.preprocess ??
      (entry ? PREPROCESS_PRESETS[entry.preprocess] : undefined),
    labels: info.labels ?? imported.usage?.labels ?? entry?.labels,
    source: source.split("/").pop(),
    sourceSha256: sha256,
    sourceFormat: imported.format,
  };
}

/**
 * The zoo file for an imported model, with provenance, at the precision `info` asks for, as
 * chunks to write in order (see `writeAtomically`).
 *
 * @example
 * ```ts
 * import { importBytes } from "../convert/import.ts";
 * import { readZooHeader } from "../convert/zoofile.ts";
 * import { writeAtomically } from "../formats/files.ts";
 * const path = "testdata/cifar10-resnet/resnet20-12fca82f.th";
 * const bytes = await Deno.readFile(path);
 * const out = await Deno.makeTempFile({ suffix: ".safetensors" });
 * await writeAtomically(out, await toZooFile(bytes, path, await importBytes(bytes, path)));
 * console.log((await readZooHeader(out)).source); // "resnet20-12fca82f.th"
 * await Deno.remove(out);
 * ```
 */
export async function toZooFile(
  bytes: Uint8Array,
  source: string,
  imported: ImportedModel,
  info: ProvenanceInfo = {},
): Promise<FileChunk[]> {
  return zooWeightsChunks(imported.spec, imported.weights, {
    ...await provenance(bytes, source, imported, info),
    dtype: info.dtype,
    calibration: info.calibration,
  });
}
