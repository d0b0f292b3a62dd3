/**
 * The hub layer: the registry of published weights (torchvision, Keras Applications, the ONNX
 * model zoo, the CIFAR-10 checkpoints) with their upstream hashes, and the download cache that
 * fetches, resumes and verifies them.
 *
 * @example
 * ```ts
 * import { findWeights } from "@denozoo/zoo/hub";
 * const entry = findWeights("resnet50.tv2_in1k");
 * console.log(entry.architecture, entry.metrics.top1); // resnet50 80.858
 * ```
 *
 * @module
 */

export {
  DEFAULT_WEIGHTS,
  defaultWeights,
  findWeights,
  REGISTRY,
  type WeightsEntry,
  type WeightsHash,
  type WeightsMetrics,
} from "./registry.ts";
export { validateRegistryJson } from "./registry_json.ts";
export {
  type CacheCheck,
  cacheDir,
  cachedPath,
  type CacheState,
  fetchWeights,
  type FetchWeightsOptions,
  inspectCached,
  mirrorUrl,
  verifyCached,
} from "./cache.ts";
export {
  type CachedFiles,
  cachedFiles,
  type CacheListing,
  listCache,
  removeCached,
} from "./cache_files.ts";
export { type DownloadProgress, HostNotFoundError } from "./download.ts";
export { type HashAlgorithm, hashBytes, hashFile } from "./hash.ts";
export { readSource, type SourceFile } from "./source.ts";
