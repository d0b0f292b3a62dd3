/**
 * The heavy npm libraries of the readers, each started on its first use and then shared:
 * onnx-proto (protobuf.js and the ONNX schema, about 16 MB of memory) for ONNX files, and h5wasm
 * (HDF5 compiled to WebAssembly) for Keras HDF5 files. Importing this module loads neither, so a
 * run that reads only safetensors or PyTorch files never pays for them; every reader gets them
 * from here, and nowhere else imports their values.
 *
 * @example
 * ```ts
 * import { loadOnnxProto } from "./libraries.ts";
 * const onnx = await loadOnnxProto();
 * console.log(onnx.TensorProto.DataType.FLOAT); // 1
 * ```
 *
 * @module
 */

import type { onnx as OnnxProto } from "onnx-proto";
import type h5wasmApi from "h5wasm/node";

/** onnx-proto's `onnx` namespace: the ONNX protobuf messages (`ModelProto`, …) and enums. */
export type OnnxSchema = typeof OnnxProto;

let onnxProto: Promise<OnnxSchema> | undefined;

/**
 * onnx-proto's ONNX schema, loaded (with protobuf.js) on the first call.
 *
 * @example
 * ```ts
 * const onnx = await loadOnnxProto();
 * console.log(onnx.AttributeProto.AttributeType.INTS); // 7
 * ```
 */
export function loadOnnxProto(): Promise<OnnxSchema> {
  onnxProto ??= import("onnx-proto").then((module) => module.default.onnx);
  return onnxProto;
}

/** h5wasm's API: its `File`, `Group` and `Dataset` classes and the `ready` promise. */
export type H5wasmApi = typeof h5wasmApi;

/** h5wasm's started Emscripten module: HDF5's C calls, the heap and the file system. */
export type H5Module = Awaited<H5wasmApi["ready"]>;

/** What the HDF5 reader uses of h5wasm's WebAssembly instance, beyond h5wasm's API. */
export interface H5wasmInstance {
  /** The stack pointer. */
  stackPointer(): number;
  /** Sets the stack pointer. */
  restoreStack(pointer: number): void;
  /** The instance's memory. */
  memory: WebAssembly.Memory;
}

/** h5wasm, started, with HDF5's errors under the reader's control. */
export interface H5wasm {
  /** h5wasm's classes. */
  readonly api: H5wasmApi;
  /** The started module. */
  readonly module: H5Module;
  /** The instance's stack and memory; `undefined` if h5wasm's build stops exporting them. */
  readonly instance: H5wasmInstance | undefined;
  /**
   * While a list, HDF5's errors are collected in it instead of thrown, and each h5wasm call that
   * reported some throws them once it has returned; while `undefined`, h5wasm throws as it does.
   *
   * h5wasm's "throwing" error handler throws a JavaScript exception from inside the WebAssembly
   * call, which skips everything the call had left to do: the objects h5wasm had opened for it
   * stay open (and with them the whole file, its OS file descriptor and about 300 KB of HDF5
   * state), and the call's stack space is never popped (about 1 KB of the 2 MiB stack). After a
   * few thousand corrupt files every read failed. With the errors collected, HDF5 returns its
   * error code, h5wasm's call closes what it opened and returns, and then the call throws.
   */
  deferredErrors: string[] | undefined;
}

/** The h5wasm calls that report HDF5 errors, made by h5wasm's classes or by the reader directly. */
const HDF5_CALLS = [
  "open",
  "close_file",
  "get_keys",
  "get_names",
  "get_types",
  "get_type",
  "get_symbolic_link",
  "get_external_link",
  "get_attribute_names",
  "get_attribute_metadata",
  "get_attribute_data",
  "reclaim_vlen_memory",
  "get_dataset_metadata",
  "get_dataset_data",
  "get_dataset_filters",
] as const;

let h5wasmStart: Promise<H5wasm> | undefined;

/**
 * h5wasm, started on the first call. It rejects, on this and every later call, when h5wasm
 * cannot start: it reads the whole environment as it starts, which a narrow `--allow-env`
 * refuses.
 *
 * @example
 * ```ts
 * const { module } = await loadH5wasm();
 * console.log(module.HEAPU8.length > 0); // true
 * ```
 */
export function loadH5wasm(): Promise<H5wasm> {
  h5wasmStart ??= startH5wasm();
  return h5wasmStart;
}

/**
 * h5wasm does not export its stack functions and memory, nor let its error import be replaced,
 * so these are caught as h5wasm instantiates its module, which it does as it is imported.
 */
async function startH5wasm(): Promise<H5wasm> {
  let started: H5wasm | undefined;
  let instance: H5wasmInstance | undefined;
  const instantiate = WebAssembly.instantiate;
  WebAssembly.instantiate = async function (...args: unknown[]) {
    const env = (args[1] as Record<string, Record<string, unknown>> | undefined)?.env;
    const throwError = env?.throw_error;
    if (env && typeof throwError === "function") {
      env.throw_error = (message: number): void => {
        const errors = started?.deferredErrors;
        if (errors === undefined || instance === undefined) throwError(message);
        else errors.push(cString(instance.memory, message));
      };
    }
    const result = await (Reflect.apply(instantiate, WebAssembly, args) as Promise<
      WebAssembly.Instance | WebAssembly.WebAssemblyInstantiatedSource
    >);
    const { exports } = result instanceof WebAssembly.Instance ? result : result.instance;
    const { H5Fopen, emscripten_stack_get_current, _emscripten_stack_restore, memory } = exports;
    if (
      typeof H5Fopen === "function" && typeof emscripten_stack_get_current === "function" &&
      typeof _emscripten_stack_restore === "function" && memory instanceof WebAssembly.Memory
    ) {
      instance = {
        stackPointer: emscripten_stack_get_current as () => number,
        restoreStack: _emscripten_stack_restore as (pointer: number) => void,
        memory,
      };
    }
    return result;
  } as typeof WebAssembly.instantiate;
  try {
    const { default: api } = await import("h5wasm/node");
    started = { api, module: await api.ready, instance, deferredErrors: undefined };
    deferErrors(started);
    return started;
  } finally {
    WebAssembly.instantiate = instantiate;
  }
}

/** A NUL-terminated UTF-8 string in WebAssembly memory. */
function cString(memory: WebAssembly.Memory, pointer: number): string {
  const bytes = new Uint8Array(memory.buffer);
  const end = bytes.indexOf(0, pointer);
  return new TextDecoder().decode(bytes.subarray(pointer, end < 0 ? pointer : end));
}

/** Wraps h5wasm's calls to throw, once a call has returned, the errors HDF5 reported during it. */
function deferErrors(h5: H5wasm): void {
  const calls = h5.module as unknown as Record<string, unknown>;
  for (const name of HDF5_CALLS) {
    const call = calls[name];
    if (typeof call !== "function") continue;
    calls[name] = (...args: unknown[]): unknown => {
      const result = call(...args);
      if (h5.deferredErrors !== undefined && h5.deferredErrors.length > 0) {
        throw new Error(h5.deferredErrors.splice(0).join("\n"));
      }
      return result;
    };
  }
}
