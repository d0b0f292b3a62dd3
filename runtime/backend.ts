/**
 * Chooses and initialises the tfjs backend: WebGPU when `navigator.gpu` yields a hardware
 * adapter, else wasm, else cpu. WebGPU is registered by hand because the factory in
 * tfjs-backend-webgpu 4.22 reads `adapter.info` after `requestDevice`, which Deno
 * forbids (tfjs#8518), and passes a nested `requiredFeatures` array Deno rejects.
 *
 * @example
 * ```ts
 * import { useBackend } from "./backend.ts";
 * const name = await useBackend("auto");
 * console.log(name); // "webgpu", "wasm" or "cpu"
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { getThreadsCount } from "@tensorflow/tfjs-backend-wasm";

/**
 * A backend name, or `auto` for the fastest available.
 *
 * @example
 * ```ts
 * import { type BackendChoice, useBackend } from "./backend.ts";
 * const choice: BackendChoice = "wasm";
 * console.log(await useBackend(choice)); // wasm
 * ```
 */
export type BackendChoice = "auto" | "webgpu" | "wasm" | "cpu";

/** Minimal view of Deno's WebGPU types, so no global type augmentation is needed. */
interface GpuAdapterLike {
  info: unknown;
  features: Set<string>;
  limits: Record<string, number>;
  requestDevice(descriptor: {
    requiredFeatures: string[];
    requiredLimits: Record<string, number>;
  }): Promise<unknown>;
}

let webgpuRegistration: Promise<boolean> | null = null;

async function registerWebGpu(): Promise<boolean> {
  const gpu =
    (globalThis.navigator as { gpu?: { requestAdapter(): Promise<GpuAdapterLike | null> } })
      ?.gpu;
  if (!gpu) return false;
  const adapter = await gpu.requestAdapter();
  if (!adapter) return false;
  // Imported only once an adapter exists: the backend's code is 20 MB of memory. The package
  // registers its own factory on import, which cannot work in Deno; ours replaces it.
  const { WebGPUBackend } = await import("@tensorflow/tfjs-backend-webgpu");
  if (tf.findBackendFactory("webgpu")) tf.removeBackend("webgpu");
  // Read the adapter's info before requestDevice invalidates the adapter.
  const info = adapter.info;
  const requiredFeatures = adapter.features.has("timestamp-query") ? ["timestamp-query"] : [];
  const limitNames = [
    "maxComputeWorkgroupStorageSize",
    "maxComputeWorkgroupsPerDimension",
    "maxStorageBufferBindingSize",
    "maxBufferSize",
    "maxComputeWorkgroupSizeX",
    "maxComputeInvocationsPerWorkgroup",
  ];
  const requiredLimits = Object.fromEntries(limitNames.map((n) => [n, adapter.limits[n]]));
  const device = await adapter.requestDevice({ requiredFeatures, requiredLimits });
  // deno-lint-ignore no-explicit-any
  tf.registerBackend("webgpu", () => new WebGPUBackend(device as any, info as any), 3);
  return true;
}

/**
 * Whether a WebGPU adapter exists (registers the Deno-compatible backend on first call).
 *
 * @example
 * ```ts
 * if (await webgpuAvailable()) console.log("GPU");
 * ```
 */
export function webgpuAvailable(): Promise<boolean> {
  webgpuRegistration ??= registerWebGpu().catch(() => false);
  return webgpuRegistration;
}

/**
 * Whether a Linux kernel exposes a GPU: a DRM render node, an NVIDIA device or WSL's `/dev/dxg`.
 * Without one, asking WebGPU for an adapter only loads the Vulkan loader and its drivers (about
 * 75 MB of memory) to find Mesa's software rasteriser. `undefined` when it cannot tell: another
 * OS, or no permission to read `/dev` (checked without prompting).
 */
function linuxGpuDevicePresent(): boolean | undefined {
  if (Deno.build.os !== "linux") return undefined;
  if (Deno.permissions.querySync({ name: "read", path: "/dev" }).state !== "granted") {
    return undefined;
  }
  const exists = (path: string) => {
    try {
      Deno.statSync(path);
      return true;
    } catch {
      return false;
    }
  };
  let renderNodes: string[] = [];
  try {
    renderNodes = [...Deno.readDirSync("/dev/dri")].map((entry) => entry.name);
  } catch {
    // No DRM devices at all.
  }
  return renderNodes.some((name) => name.startsWith("renderD")) || exists("/dev/nvidia0") ||
    exists("/dev/dxg");
}

/**
 * Whether WebGPU runs on real hardware (not a software adapter such as Mesa's llvmpipe).
 *
 * @example
 * ```ts
 * console.log(await hardwareGpuAvailable()); // false on a CPU-only server
 * ```
 */
export async function hardwareGpuAvailable(): Promise<boolean> {
  if (linuxGpuDevicePresent() === false) return false;
  // Only the adapter's info is needed: creating a device costs time and memory.
  const gpu =
    (globalThis.navigator as { gpu?: { requestAdapter(): Promise<GpuAdapterLike | null> } })?.gpu;
  const adapter = await gpu?.requestAdapter().catch(() => null);
  return !!adapter &&
    !((adapter.info as { isFallbackAdapter?: boolean })?.isFallbackAdapter ?? true);
}

/**
 * Options of {@link useBackend}.
 *
 * @example
 * ```ts
 * import { type BackendOptions, useBackend, wasmThreadCount } from "./backend.ts";
 * const options: BackendOptions = { wasmThreads: 2 };
 * await useBackend("wasm", options);
 * console.log(wasmThreadCount()); // 2
 * ```
 */
export interface BackendOptions {
  /**
   * Threads for the wasm backend (1–8, default 1). One runs tfjs's single-threaded SIMD build,
   * which starts fastest; more run the threaded SIMD build (see `wasm_threads.ts`), which
   * takes about 0.25 s longer to start and runs ResNet-50 1.8× faster on two cores. Switch
   * before making tensors: switching disposes those on the previous wasm backend.
   */
  wasmThreads?: number;
}

/**
 * Threads the wasm backend runs: 1 for the single-threaded build, 0 before it has started.
 *
 * @example
 * ```ts
 * await useBackend("wasm", { wasmThreads: 2 });
 * console.log(wasmThreadCount()); // 2
 * ```
 */
export function wasmThreadCount(): number {
  try {
    return getThreadsCount();
  } catch {
    return 0; // tfjs throws until the backend has initialised
  }
}

/**
 * The active tfjs backend as an engine label, with its threads when wasm runs several:
 * `tfjs-webgpu`, `tfjs-wasm`, `tfjs-wasm (2 threads)` or `tfjs-cpu`.
 *
 * @example
 * ```ts
 * await useBackend("wasm");
 * console.log(tfjsEngineName()); // "tfjs-wasm"
 * ```
 */
export function tfjsEngineName(): string {
  const backend = tf.getBackend();
  const threads = backend === "wasm" ? wasmThreadCount() : 1;
  return `tfjs-${backend}${threads > 1 ? ` (${threads} threads)` : ""}`;
}

let startedOnFirstUse = false;

/**
 * Starts the cpu backend when no backend was chosen, for code that cannot wait for one (a
 * first `predict` or `layersModel`): tfjs would otherwise fail with "The highest priority
 * backend 'wasm' has not yet been initialized", since wasm and WebGPU start asynchronously.
 * Says so once on stderr, since `await useBackend()` first gives a faster backend.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * await useBackend("wasm");
 * startBackendIfNone(); // a backend runs: nothing to do
 * console.log(tf.getBackend()); // wasm
 * ```
 */
export function startBackendIfNone(): void {
  if (tf.getBackend()) return;
  tf.enableProdMode();
  // The cpu backend initialises synchronously, so setBackend has switched when it returns.
  void tf.setBackend("cpu");
  if (!startedOnFirstUse) {
    startedOnFirstUse = true;
    console.warn(
      "denozoo: no tfjs backend was chosen, so the cpu backend started; " +
        "`await useBackend()` first runs models on wasm or WebGPU, many times faster",
    );
  }
}

/**
 * Activates a backend and returns the name of the one that runs. `auto` takes WebGPU on a
 * hardware GPU (a software adapter such as Mesa's llvmpipe is several times slower than wasm),
 * then wasm, then cpu; a forced backend that cannot start is an error.
 *
 * @example
 * ```ts
 * await useBackend("cpu");
 * await useBackend("wasm", { wasmThreads: navigator.hardwareConcurrency });
 * ```
 */
export async function useBackend(
  choice: BackendChoice = "auto",
  options: BackendOptions = {},
): Promise<string> {
  // Production mode skips per-op debug checks and the cpu backend's advice to install
  // tfjs-node (which cannot load in Deno). Set here, where a backend is chosen, not on import.
  tf.enableProdMode();
  const threads = options.wasmThreads ?? 1;
  const order = choice === "auto" ? ["webgpu", "wasm", "cpu"] : [choice];
  for (const name of order) {
    if (name === "webgpu" && choice === "auto" && !(await hardwareGpuAvailable())) continue;
    if (name === "webgpu" && !(await webgpuAvailable())) continue;
    // A started wasm backend with other threads is replaced (its tensors go with it); one with
    // these threads is reused, even when another backend was active in between.
    const running = tf.findBackend("wasm") ? wasmThreadCount() : 0;
    if (name === "wasm" && running !== threads && (threads > 1 || running > 1)) {
      const { useThreadedWasm } = await import("./wasm_threads.ts");
      await useThreadedWasm(threads);
      return name;
    }
    if (tf.getBackend() === name) return name;
    if (await tf.setBackend(name).catch(() => false)) {
      await tf.ready();
      return name;
    }
  }
  const hint = choice === "wasm"
    ? ` (it reads its .wasm from ${
      new URL(".", import.meta.resolve("npm:@tensorflow/tfjs-backend-wasm")).pathname
    }: ` +
      "grant --allow-read there)"
    : "";
  throw new Error(`backend '${choice}' could not start on this machine${hint}`);
}
