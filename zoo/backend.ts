/**
 * Chooses and initialises the tfjs backend: WebGPU when `navigator.gpu` yields an
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
import "@tensorflow/tfjs-backend-wasm";

/** A backend name, or `auto` for the fastest available. */
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

// Production mode skips per-op debug checks and the cpu backend's advice to install
// tfjs-node (which cannot load in Deno).
tf.enableProdMode();

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
 * Activates a backend and returns the name of the one that runs. `auto` tries WebGPU,
 * then wasm, then cpu; a forced backend that cannot start is an error.
 *
 * @example
 * ```ts
 * await useBackend("cpu");
 * ```
 */
export async function useBackend(choice: BackendChoice = "auto"): Promise<string> {
  const order = choice === "auto" ? ["webgpu", "wasm", "cpu"] : [choice];
  for (const name of order) {
    if (name === "webgpu" && !(await webgpuAvailable())) continue;
    if (tf.getBackend() === name) return name;
    if (await tf.setBackend(name).catch(() => false)) {
      await tf.ready();
      return name;
    }
  }
  const hint = choice === "wasm"
    ? ` (it reads its .wasm from ${
      new URL(".", import.meta.resolve("@tensorflow/tfjs-backend-wasm")).pathname
    }: ` +
      "grant --allow-read there)"
    : "";
  throw new Error(`backend '${choice}' could not start on this machine${hint}`);
}
