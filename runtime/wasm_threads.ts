/**
 * The multi-threaded SIMD build of tfjs-backend-wasm, running in Deno.
 *
 * tfjs never uses it here, for two reasons this module works around:
 *
 * 1. Deno looks like Node (it has `process`), and tfjs-backend-wasm turns threads off on
 *    Node, so it loads the single-threaded build. Forcing the threaded build then fails in
 *    Emscripten's Node path: it hands a `blob:` URL to `worker_threads` (`ERR_WORKER_PATH`),
 *    its worker script sets `self.location` and calls `require`.
 * 2. Even started, the build caps its thread pool at half the logical cores: tfjs's C++
 *    (`backend.cc`, `init_with_threads_count`) computes
 *    `min(requested, emscripten_num_logical_cores() / 2)`, which is 1 on a 2-core machine
 *    whatever `setThreadsCount` asked for.
 *
 * So the package's own Emscripten factory is evaluated with Node's and the browser's globals
 * hidden (taking its plain-JavaScript path), given a `Worker` class backed by
 * `node:worker_threads` that speaks Emscripten's pthread messages (`load`, `run`, …), and its
 * `emscripten_num_logical_cores` import reports twice the requested threads. Worker threads,
 * not Deno's web Workers: these can be `unref`'d, so idle pool threads do not keep the process
 * alive. The module's code is first rewritten by `relaxSimd` (fused multiply-adds, XNNPACK's
 * 5×8 GEMM tiles), so results agree with the single-threaded build within float32 rounding,
 * not bit for bit, and with PyTorch's a little more closely.
 *
 * Permissions: read access to the package's folder in Deno's npm cache (for the `.wasm`), as
 * for the single-threaded build; the worker threads inherit the process's permissions.
 *
 * @example
 * ```ts
 * import { useThreadedWasm } from "./wasm_threads.ts";
 * await useThreadedWasm(2); // tfjs now runs on the 'wasm' backend with 2 threads
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import { BackendWasm, getThreadsCount, setThreadsCount } from "@tensorflow/tfjs-backend-wasm";
import threadedFactory from "@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js";
import { Worker as NodeWorker } from "node:worker_threads";
import { relaxSimd } from "./wasm_relaxed.ts";

/** Emscripten pre-spawns this many pool workers (`PTHREAD_POOL_SIZE`); more threads cannot start. */
const MAX_THREADS = 8;

/** Globals hidden from the factory, so that it takes neither its Node nor its browser path. */
const HIDDEN_GLOBALS = [
  "process",
  "require",
  "importScripts",
  "window",
  "document",
  "global",
  "__filename",
  "__dirname",
  "_scriptDir",
];

/**
 * Source of a function `(Worker, startWorker, postMessage) => factory`: the package's
 * Emscripten factory with the hidden globals shadowed and Emscripten's worker hooks supplied.
 */
const FACTORY_SOURCE = `(function (Worker, startWorker, postMessage) {
  var ${HIDDEN_GLOBALS.join(", ")};
  return (${String(threadedFactory)});
})`;

/**
 * A pool thread's script (CommonJS, as `worker_threads` evaluates it). It answers Emscripten's
 * pthread protocol: `load` instantiates the shared module on the shared memory, `run` starts a
 * thread routine, `cancel` ends it, `processProxyingQueue` runs calls proxied to this thread.
 */
const POOL_THREAD_SOURCE = `
const { parentPort } = require("node:worker_threads");
const postMessage = (message) => parentPort.postMessage(message);
const makeFactory = ${FACTORY_SOURCE};
let Module = {};
let started = false;
let queuedBeforeStart = [];
const startWorker = (instance) => {
  Module = instance;
  postMessage({ cmd: "loaded" });
};
parentPort.on("message", (message) => {
  try {
    switch (message.cmd) {
      case "load": {
        Module.wasmModule = message.wasmModule;
        for (const handler of message.handlers) {
          Module[handler] = (...args) => postMessage({ cmd: "callHandler", handler, args });
        }
        Module.wasmMemory = message.wasmMemory;
        Module.buffer = message.wasmMemory.buffer;
        Module.ENVIRONMENT_IS_PTHREAD = true;
        Module.instantiateWasm = (imports, receiveInstance) => {
          const instance = new WebAssembly.Instance(Module.wasmModule, imports);
          receiveInstance(instance);
          Module.wasmModule = null;
          return instance.exports;
        };
        makeFactory(undefined, startWorker, postMessage)(Module);
        break;
      }
      case "run": {
        Module.__emscripten_thread_init(message.pthread_ptr, 0, 0, 1);
        Module.establishStackSpace();
        Module.PThread.receiveObjectTransfer(message);
        Module.PThread.threadInitTLS();
        if (!started) {
          for (const queue of queuedBeforeStart) Module.executeNotifiedProxyingQueue(queue);
          queuedBeforeStart = [];
          started = true;
        }
        try {
          Module.invokeEntryPoint(message.start_routine, message.arg);
        } catch (error) {
          if (error === "unwind") break;
          if (!(error instanceof Module.ExitStatus)) throw error;
          if (!Module.keepRuntimeAlive()) Module.__emscripten_thread_exit(error.status);
        }
        break;
      }
      case "cancel":
        if (Module._pthread_self()) Module.__emscripten_thread_exit(-1);
        break;
      case "processProxyingQueue":
        if (started) Module.executeNotifiedProxyingQueue(message.queue);
        else queuedBeforeStart.push(message.queue);
        break;
      default:
        if (message.cmd) console.error("wasm pool thread: unknown command " + message.cmd);
    }
  } catch (error) {
    if (Module.__emscripten_thread_crashed) Module.__emscripten_thread_crashed();
    throw error;
  }
});
`;

/** The web Worker surface Emscripten's pool uses, over a `worker_threads` worker. */
class PoolThread {
  readonly #thread: NodeWorker;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onerror: ((error: unknown) => void) | null = null;

  constructor() {
    this.#thread = new NodeWorker(POOL_THREAD_SOURCE, { eval: true });
    this.#thread.on("message", (data) => this.onmessage?.({ data }));
    this.#thread.on("error", (error) => this.onerror?.(error));
  }

  postMessage(message: unknown, transfer?: Transferable[]): void {
    // deno-lint-ignore no-explicit-any
    this.#thread.postMessage(message, transfer as any);
  }

  terminate(): void {
    this.#thread.terminate();
  }

  unref(): void {
    this.#thread.unref();
  }
}

/** Emscripten's module object: untyped JavaScript. */
// deno-lint-ignore no-explicit-any
type EmscriptenModule = any;

/** Starts the threaded build with `threads - 1` pool threads (the caller is the first). */
async function startThreadedModule(threads: number): Promise<EmscriptenModule> {
  // `npm:` without a version: the package this module already imports. A bare specifier
  // would need deno.json's import map, which a published (JSR) package does not have.
  const wasmUrl = import.meta.resolve(
    "npm:@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.wasm",
  );
  const wasm = await Deno.readFile(new URL(wasmUrl));
  // Fused multiply-adds and XNNPACK's taller tiles: 15–20% faster (see wasm_relaxed.ts).
  const wasmModule = await WebAssembly.compile(relaxSimd(wasm)?.bytes ?? wasm);
  const factory = (0, eval)(FACTORY_SOURCE)(PoolThread, undefined, undefined);
  const config: EmscriptenModule = {
    // Pool threads evaluate the factory from POOL_THREAD_SOURCE, never from this URL.
    mainScriptUrlOrBlob: "unused",
    locateFile: (path: string) => path,
    print: console.log,
    printErr: console.error,
    instantiateWasm(
      imports: WebAssembly.Imports & { env: WebAssembly.ModuleImports },
      receiveInstance: (instance: WebAssembly.Instance, module: WebAssembly.Module) => void,
    ) {
      // The C++ side caps the pool at half of this (see the module docs).
      imports.env.emscripten_num_logical_cores = () => 2 * threads;
      // Deno's main thread may wait on a futex; Emscripten would warn about it on every wait.
      imports.env.emscripten_check_blocking_allowed = () => {};
      // Keep only the pool threads that will run. At least one: startup waits until every
      // pooled thread has loaded, and with none it would wait forever.
      const pool: PoolThread[] = config.PThread.unusedWorkers;
      for (const extra of pool.splice(Math.max(threads - 1, 1))) extra.terminate();
      WebAssembly.instantiate(wasmModule, imports).then((instance) =>
        receiveInstance(instance, wasmModule)
      );
      return {};
    },
  };
  // Resolves once every pool thread has loaded the module, so no pthread_create waits later.
  const module = await factory(config);
  // Idle pool threads must not keep the process alive; they wake on futexes in shared memory.
  for (const thread of module.PThread.unusedWorkers as PoolThread[]) thread.unref();
  // The C entry points tfjs's BackendWasm calls, wrapped as tfjs's own init() wraps them.
  module.tfjs = {
    init: module.cwrap("init", null, []),
    initWithThreadsCount: module.cwrap("init_with_threads_count", null, ["number"]),
    getThreadsCount: module.cwrap("get_threads_count", "number", []),
    registerTensor: module.cwrap("register_tensor", null, ["number", "number", "number"]),
    disposeData: module.cwrap("dispose_data", null, ["number"]),
    dispose: module.cwrap("dispose", null, []),
  };
  return module;
}

/**
 * Replaces tfjs's `wasm` backend with the threaded SIMD build running `threads` threads, and
 * activates it. The kernels tfjs-backend-wasm registered stay in use; `tf.removeBackend("wasm")`
 * stops the pool threads.
 *
 * @param threads 1 to 8.
 * @returns The number of threads the backend runs.
 * @throws {RangeError} For a thread count outside 1–8; {Error} if the build cannot start.
 *
 * @example
 * ```ts
 * console.log(await useThreadedWasm(navigator.hardwareConcurrency)); // e.g. 2
 * ```
 */
export async function useThreadedWasm(threads: number): Promise<number> {
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS) {
    throw new RangeError(`threads must be an integer from 1 to ${MAX_THREADS}, got ${threads}`);
  }
  if (tf.findBackendFactory("wasm")) tf.removeBackend("wasm");
  setThreadsCount(threads);
  tf.registerBackend("wasm", async () => new BackendWasm(await startThreadedModule(threads)), 2);
  if (!(await tf.setBackend("wasm"))) {
    throw new Error("the threaded wasm backend could not start (see the error above)");
  }
  await tf.ready();
  return getThreadsCount();
}
