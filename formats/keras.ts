/**
 * Reader for Keras weight and model files. It turns four layouts into one list of layers that own
 * weights, in model order, each with its tensors in the layer's own order and Keras layout
 * (Conv2D kernel HWIO, Dense kernel [in, out], BatchNormalization gamma, beta, moving_mean,
 * moving_variance):
 *
 * - Keras 2 HDF5 weights (`save_weights`, e.g. keras.applications `*_tf_kernels.h5`),
 * - Keras 2 full-model HDF5 (`model.save("x.h5")`, with `model_config` and `model_weights`),
 * - Keras 3 `.keras` zips and bare Keras 3 `.weights.h5` files,
 * - TensorFlow.js layers models (`model.json` plus binary weight shards).
 *
 * HDF5 is read with h5wasm, which this module loads (top-level await) before its first use. h5wasm
 * opens files by name from the host's file system, so each HDF5 file is written to a temporary file
 * (which needs write permission for the temporary directory) for the duration of the read.
 *
 * @example
 * ```ts
 * import { readKeras } from "../convert/convert/keras.ts";
 * const model = readKeras(await Deno.readFile("resnet8.h5"), "resnet8.h5");
 * console.log(model.format, model.layers.map((layer) => layer.name));
 * ```
 *
 * @module
 */

import { messageOf } from "../arch/errors.ts";
import { HDF5_SIGNATURE, startsWithSignature, ZIP_SIGNATURE } from "./detect.ts";
import { bfloat16BitsToFloat32, float16BitsToFloat32 } from "./float16.ts";
import type { Dataset, File as Hdf5File, Group } from "h5wasm/node";
import type { NamedTensor } from "./tensor.ts";
import { ZooFormatError } from "../arch/errors.ts";
import { readZip } from "./zip.ts";

/** Which of the supported Keras layouts a file was read as. */
export type KerasFormat = "h5-weights" | "h5-model" | "keras3" | "tfjs-layers";

/** The weights of one layer, in the order the layer creates them. */
export interface KerasLayerWeights {
  /** The layer's name (`conv1_conv`, `stem_bn`, …). */
  name: string;
  /** The layer's Keras class (`Conv2D`, `BatchNormalization`, …) where the file has a model config. */
  className?: string;
  /** The layer's tensors, e.g. `[kernel, bias]` for Conv2D and Dense. */
  weights: NamedTensor[];
}

/** What {@link readKeras} found in a file. */
export interface KerasFile {
  /** The layout the file was read as. */
  format: KerasFormat;
  /** The Keras version that wrote the file, where recorded. */
  kerasVersion?: string;
  /** The Keras backend that wrote the file, where recorded (`tensorflow`, …). */
  backend?: string;
  /**
   * The model config (the JSON `{class_name, config}` of the model), when the file has one
   * (h5-model: root attr model_config; keras3: config.json; tfjs-layers: model.json
   * modelTopology.model_config or modelTopology).
   */
  modelConfig?: Record<string, unknown>;
  /** Layers that own weights, in model order. */
  layers: KerasLayerWeights[];
}

/** Options of {@link readKeras}. */
export interface ReadKerasOptions {
  /** For a tfjs `model.json`: the bytes of each shard, keyed by its path as written in `weightsManifest[].paths`. */
  shards?: Map<string, Uint8Array>;
}

type JsonObject = Record<string, unknown>;

/** How the elements of an HDF5 dataset are stored; only floating-point weights are read. */
type StoredFloat = "float16" | "bfloat16" | "float32" | "float64";

/** What every HDF5 read needs to report errors and bound allocations. */
interface Hdf5Source {
  file: string;
  byteLength: number;
}

/** What this reader uses of h5wasm's WebAssembly instance, beyond h5wasm's API. */
interface H5wasmInstance {
  /** The stack pointer. */
  stackPointer(): number;
  /** Sets the stack pointer. */
  restoreStack(pointer: number): void;
  /** The instance's memory, whose growth {@link withHdf5} bounds. */
  memory: WebAssembly.Memory;
}

/**
 * The HDF5 errors of the read in progress; `undefined` outside {@link withHdf5}.
 *
 * h5wasm's "throwing" error handler throws a JavaScript exception from inside the WebAssembly
 * call, which skips everything the call had left to do: the objects h5wasm had opened for it stay
 * open (and with them the whole file, its OS file descriptor and about 300 KB of HDF5 state), and
 * the call's stack space is never popped (about 1 KB of the 2 MiB stack). After a few thousand
 * corrupt files every read failed. So during reads the handler's throw only records the message:
 * HDF5 returns its error code, h5wasm's call closes what it opened and returns, and then the
 * wrapper around the call (see {@link deferHdf5Errors}) throws the message.
 */
let hdf5Errors: string[] | undefined;

/** The h5wasm calls this reader makes, directly or through h5wasm's classes. */
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

/**
 * h5wasm does not export its stack functions and memory, nor let its error import be replaced,
 * so these are caught as h5wasm instantiates its module.
 */
let h5wasmInstance: H5wasmInstance | undefined;
const instantiate = WebAssembly.instantiate;
WebAssembly.instantiate = async function (...args: unknown[]) {
  const env = (args[1] as Record<string, Record<string, unknown>> | undefined)?.env;
  const throwError = env?.throw_error;
  if (env && typeof throwError === "function") {
    env.throw_error = (message: number): void => {
      if (hdf5Errors === undefined || h5wasmInstance === undefined) throwError(message);
      else hdf5Errors.push(cString(h5wasmInstance.memory, message));
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
    h5wasmInstance = {
      stackPointer: emscripten_stack_get_current as () => number,
      restoreStack: _emscripten_stack_restore as (pointer: number) => void,
      memory,
    };
  }
  return result;
} as typeof WebAssembly.instantiate;
const { default: h5wasm } = await import("h5wasm/node");
// h5wasm reads the whole environment when it starts; under a narrow --allow-env that fails,
// and only HDF5 files need it, so the failure is kept and reported when one is read.
const h5Loaded: Awaited<typeof h5wasm.ready> | Error = await h5wasm.ready
  .then(deferHdf5Errors)
  .catch((error: Error) => error)
  .finally(() => WebAssembly.instantiate = instantiate);

/** A NUL-terminated UTF-8 string in WebAssembly memory. */
function cString(memory: WebAssembly.Memory, pointer: number): string {
  const bytes = new Uint8Array(memory.buffer);
  const end = bytes.indexOf(0, pointer);
  return new TextDecoder().decode(bytes.subarray(pointer, end < 0 ? pointer : end));
}

/** Wraps h5wasm's calls to throw, once a call has returned, the errors HDF5 reported during it. */
function deferHdf5Errors<M extends object>(module: M): M {
  const calls = module as unknown as Record<string, unknown>;
  for (const name of HDF5_CALLS) {
    const call = calls[name];
    if (typeof call !== "function") continue;
    calls[name] = (...args: unknown[]): unknown => {
      const result = call(...args);
      if (hdf5Errors !== undefined && hdf5Errors.length > 0) {
        throw new Error(hdf5Errors.splice(0).join("\n"));
      }
      return result;
    };
  }
  return module;
}

/** The HDF5 type classes in h5wasm's dataset metadata. */
const H5T_INTEGER = 0;
const H5T_FLOAT = 1;
const H5T_STRING = 3;

/**
 * Reads the layers and weights of a Keras file: an HDF5 weights or model file, a Keras 3 `.keras`
 * zip or `.weights.h5`, or a tfjs layers `model.json` (whose shards go in `options.shards`).
 * The layout is recognised from the bytes, not from the file name.
 *
 * @param bytes The file's contents.
 * @param file The file's name, used in error messages.
 * @param options The shards of a tfjs model.
 * @returns The model config where the file has one, and the layers that own weights in model order.
 * @throws {ZooFormatError} For malformed or unsupported files (Theano-ordered kernels, npz weights, graph models).
 *
 * @example
 * ```ts
 * import { readKeras } from "../convert/convert/keras.ts";
 * const json = await Deno.readFile("web_model/model.json");
 * const shards = new Map([["group1-shard1of1.bin", await Deno.readFile("web_model/group1-shard1of1.bin")]]);
 * const model = readKeras(json, "web_model/model.json", { shards });
 * const [kernel, bias] = model.layers[0].weights;
 * console.log(kernel.shape, bias.shape);
 * ```
 */
export function readKeras(
  bytes: Uint8Array,
  file: string,
  options: ReadKerasOptions = {},
): KerasFile {
  if (startsWithSignature(bytes, HDF5_SIGNATURE)) return readHdf5(bytes, file);
  if (startsWithSignature(bytes, ZIP_SIGNATURE)) return readKerasZip(bytes, file);
  if (firstNonSpace(bytes) === "{".charCodeAt(0)) {
    return readTfjsLayers(bytes, file, options.shards);
  }
  throw new ZooFormatError(
    file,
    "not a Keras file: expected HDF5 (.h5), a Keras 3 zip (.keras) or a tfjs model.json",
  );
}

function firstNonSpace(bytes: Uint8Array): number | undefined {
  return bytes.find((byte) => byte !== 0x20 && byte !== 0x09 && byte !== 0x0a && byte !== 0x0d);
}

/**
 * A short description of a JSON value for error messages: interpolating the value itself would
 * print a whole subtree, or overflow the stack on deeply nested arrays.
 */
function describeJson(value: unknown): string {
  if (typeof value === "string") {
    return `'${value.length > 100 ? `${value.slice(0, 100)}…` : value}'`;
  }
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object" && value !== null) return "an object";
  return String(value);
}

// ---------------------------------------------------------------------------------------------
// HDF5 (Keras 2 weights and models, Keras 3 weights)

/** The started h5wasm module, or the reason it could not start, naming the file being read. */
function hdf5Module(file: string): Awaited<typeof h5wasm.ready> {
  if (h5Loaded instanceof Error) {
    throw new ZooFormatError(file, `the HDF5 reader (h5wasm) could not start: ${h5Loaded.message}`);
  }
  return h5Loaded;
}

/**
 * h5wasm opens files by name only, so the bytes go into its in-memory file system for the read.
 * HDF5's errors are switched from printing to throwing for the read, then turned into ZooFormatErrors.
 */
function withHdf5<T>(bytes: Uint8Array, file: string, read: (root: Group) => T): T {
  const h5Module = hdf5Module(file);
  checkGlobalHeaps(bytes, file);
  // h5wasm's file system is the host's (Node's raw file system), so the file goes to a temporary one.
  let temporaryName: string;
  try {
    temporaryName = Deno.makeTempFileSync({ prefix: "denozoo-keras-", suffix: ".h5" });
  } catch (error) {
    throw new ZooFormatError(file, `cannot create a temporary file for HDF5: ${messageOf(error)}`);
  }
  const stackPointer = h5wasmInstance?.stackPointer();
  // h5wasm reads a variable-length string attribute into a buffer from _malloc and frees the
  // strings it points to even when the read failed, i.e. frees whatever the buffer held: a
  // corrupt attribute made malloc abort or corrupted its heap. Zeroed buffers make that free(NULL).
  const malloc = h5Module._malloc;
  h5Module._malloc = (size: number): number => {
    const pointer = malloc(size);
    if (pointer !== 0) h5Module.HEAPU8.fill(0, pointer, pointer + size);
    return pointer;
  };
  limitMemoryGrowth(bytes.length);
  hdf5Errors = [];
  try {
    h5Module.FS.writeFile(temporaryName, bytes);
    h5Module.activate_throwing_error_handler();
    let root: Hdf5File;
    try {
      root = new h5wasm.File(temporaryName, "r");
    } catch (error) {
      throw new ZooFormatError(file, `cannot open as HDF5: ${hdf5Reason(error)}`);
    }
    let result: T;
    try {
      result = read(root);
    } finally {
      root.close();
    }
    // An error reported by a call that is not wrapped still fails the read.
    if (hdf5Errors?.length) throw new Error(hdf5Errors.join("\n"));
    return result;
  } catch (error) {
    if (error instanceof ZooFormatError) throw error;
    throw new ZooFormatError(file, `HDF5 read failed: ${hdf5Reason(error)}`);
  } finally {
    hdf5Errors = undefined;
    h5Module.deactivate_throwing_error_handler();
    h5Module._malloc = malloc;
    limitMemoryGrowth(undefined);
    Deno.removeSync(temporaryName);
    // A WebAssembly trap or abort still unwinds through the frames without popping them.
    if (stackPointer !== undefined) h5wasmInstance?.restoreStack(stackPointer);
  }
}

/** A read may always grow h5wasm's memory by this much, whatever the file's size. */
const MIN_GROWTH_BYTES = 32 << 20;

/**
 * HDF5 allocates buffers of the sizes a file declares (object headers, heaps, chunks) before it
 * reads them; a corrupt 20 KB file could grow h5wasm's memory to 2 GiB, which WebAssembly
 * never gives back. While a file of `fileBytes` is read, the memory may grow by 64 times the
 * file, at least 32 MiB, or a quarter of its size (Emscripten grows it in steps of a fifth);
 * beyond that HDF5's malloc fails and HDF5 reports the error. `undefined` lifts the limit.
 */
function limitMemoryGrowth(fileBytes: number | undefined): void {
  const memory = h5wasmInstance?.memory;
  if (!memory) return;
  if (fileBytes === undefined) {
    Reflect.deleteProperty(memory, "grow");
    return;
  }
  const start = memory.buffer.byteLength;
  const allowed = Math.max(MIN_GROWTH_BYTES, 64 * fileBytes, start / 4);
  memory.grow = (pages: number): number => {
    if (memory.buffer.byteLength + pages * 65536 > start + allowed) {
      throw new RangeError(`the HDF5 file asks for more than ${allowed} bytes of memory`);
    }
    return WebAssembly.Memory.prototype.grow.call(memory, pages);
  };
}

/**
 * HDF5 (as h5wasm builds it) loops forever on a global heap collection whose objects do not tile
 * it, e.g. one holding a free-space object of size 0; variable-length strings live in these
 * collections. Every collection (signature `GCOL`) is walked here as HDF5 walks it, first.
 */
function checkGlobalHeaps(bytes: Uint8Array, file: string): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lengthSize = hdf5LengthSize(view);
  const readLength = (at: number): bigint =>
    lengthSize === 8
      ? view.getBigUint64(at, true)
      : BigInt(lengthSize === 4 ? view.getUint32(at, true) : view.getUint16(at, true));
  // Header: signature, version, 3 reserved bytes, collection size. Objects: index, reference
  // count, 4 reserved bytes, size, then the data padded to 8 bytes.
  const headerBytes = 8 + lengthSize;
  for (let at = bytes.indexOf(0x47); at >= 0; at = bytes.indexOf(0x47, at + 1)) {
    if (bytes[at + 1] !== 0x43 || bytes[at + 2] !== 0x4f || bytes[at + 3] !== 0x4c) continue;
    // Other versions and collections past the end of the file are refused by HDF5 itself.
    if (bytes[at + 4] !== 1 || at + headerBytes > bytes.length) continue;
    const size = readLength(at + 8);
    if (size > BigInt(bytes.length - at)) continue;
    const end = at + Number(size);
    for (let object = at + headerBytes; object + headerBytes <= end;) {
      const index = view.getUint16(object, true);
      const objectSize = readLength(object + 8);
      const span = index === 0 ? objectSize : BigInt(headerBytes) + ((objectSize + 7n) & ~7n);
      if (span === 0n || span > BigInt(end - object)) {
        throw new ZooFormatError(
          file,
          `corrupt HDF5 global heap at offset ${at}: object ${index} at offset ${object} ` +
            `spans ${span} bytes of the ${end - object} left in the collection`,
        );
      }
      object += Number(span);
    }
  }
}

/** The superblock's "size of lengths" (8 unless the writer chose otherwise). */
function hdf5LengthSize(view: DataView): number {
  // The superblock sits at 0, 512, 1024, 2048, … (after a user block).
  for (let at = 0; at + 16 <= view.byteLength; at = at === 0 ? 512 : at * 2) {
    if (view.getUint32(at) !== 0x89484446 || view.getUint32(at + 4) !== 0x0d0a1a0a) continue;
    const version = view.getUint8(at + 8);
    const size = view.getUint8(at + (version < 2 ? 14 : 10));
    return size === 2 || size === 4 ? size : 8;
  }
  return 8;
}

/** The innermost cause in an HDF5 error stack (`truncated file: eof = …`), else the whole message. */
function hdf5Reason(error: unknown): string {
  const message = messageOf(error);
  const causes = [...message.matchAll(/#\d+: .* in \w+\(\): (.+)/g)];
  return causes.at(-1)?.[1] ?? message;
}

function readHdf5(bytes: Uint8Array, file: string): KerasFile {
  const source: Hdf5Source = { file, byteLength: bytes.length };
  return withHdf5(bytes, file, (root) => {
    const modelWeights = childGroup(root, "model_weights");
    const backend = stringAttr(root, "backend", file) ??
      (modelWeights && stringAttr(modelWeights, "backend", file));
    if (backend === "theano") {
      throw new ZooFormatError(
        file,
        "written by the Theano backend: its kernels are flipped and channels_first, which this reader " +
          "does not convert. Load the file with Keras on the Theano backend, convert the kernels " +
          "(keras.utils.convert_all_kernels_in_model), then re-save with the TensorFlow backend",
      );
    }
    const kerasVersion = stringAttr(root, "keras_version", file) ??
      (modelWeights && stringAttr(modelWeights, "keras_version", file));
    const versionFields = {
      ...(kerasVersion === undefined ? {} : { kerasVersion }),
      ...(backend === undefined ? {} : { backend }),
    };
    if (modelWeights) {
      const configText = stringAttr(root, "model_config", file);
      const modelConfig = configText === undefined
        ? undefined
        : parseJsonObject(configText, file, "root attribute model_config");
      const classNames = new Map<string, string>();
      if (modelConfig) {
        for (const entry of configLayers(modelConfig) ?? []) {
          classNames.set(layerName(entry, file), className(entry, file));
        }
      }
      return {
        format: "h5-model",
        ...versionFields,
        ...(modelConfig ? { modelConfig } : {}),
        layers: readKeras2Layers(modelWeights, source, classNames),
      };
    }
    if (stringListAttr(root, "layer_names", file) !== undefined) {
      return { format: "h5-weights", ...versionFields, layers: readKeras2Layers(root, source) };
    }
    if (keras3Container(root)) {
      return { format: "keras3", ...versionFields, layers: readKeras3Layers(root, source) };
    }
    throw new ZooFormatError(
      file,
      "HDF5 file is not a Keras weights file: no layer_names attribute, model_weights group or " +
        "Keras 3 layers group",
    );
  });
}

/** Keras 2 layout: `layer_names` on the group, one subgroup per layer listing its `weight_names`. */
function readKeras2Layers(
  group: Group,
  source: Hdf5Source,
  classNames: Map<string, string> = new Map(),
): KerasLayerWeights[] {
  const layerNames = stringListAttr(group, "layer_names", source.file);
  if (layerNames === undefined) {
    throw new ZooFormatError(source.file, `group '${group.path}' has no layer_names attribute`);
  }
  const layers: KerasLayerWeights[] = [];
  for (const name of layerNames) {
    const layerGroup = childGroup(group, name);
    if (!layerGroup) {
      throw new ZooFormatError(
        source.file,
        `layer '${name}' is listed in layer_names but '${group.path}' has no group for it`,
      );
    }
    const weightNames = stringListAttr(layerGroup, "weight_names", source.file);
    if (weightNames === undefined) {
      throw new ZooFormatError(
        source.file,
        `layer group '${layerGroup.path}' has no weight_names attribute`,
      );
    }
    if (weightNames.length === 0) continue;
    const className = classNames.get(name);
    layers.push({
      name,
      ...(className === undefined ? {} : { className }),
      weights: weightNames.map((weightName) =>
        readDataset(layerGroup, weightName, weightName, source)
      ),
    });
  }
  return layers;
}

function childGroup(group: Group, name: string): Group | undefined {
  const child = group.get(name);
  return child instanceof h5wasm.Group ? child : undefined;
}

/** Stands for the value of an attribute that is not read: neither a string nor empty. */
const UNREAD_ATTRIBUTE: unique symbol = Symbol("unread attribute");

/**
 * An attribute's value, read only when it is a string or empty. Keras writes nothing else, and
 * HDF5 can read out of bounds when a corrupt file turns a string type into another class (a
 * variable-length sequence, say), so other values are never read.
 */
function attrValue(object: Group | Dataset, name: string): unknown {
  const attrs = object.attrs;
  if (!(name in attrs)) return undefined;
  const attribute = attrs[name];
  const { type, total_size: count } = attribute.metadata;
  if (type === H5T_STRING) return attribute.value;
  return count === 0 ? new Uint8Array(0) : UNREAD_ATTRIBUTE;
}

function stringAttr(object: Group | Dataset, name: string, file: string): string | undefined {
  const value = attrValue(object, name);
  if (value === undefined) return undefined;
  if (typeof value === "string") return value;
  throw new ZooFormatError(file, `attribute '${name}' of '${object.path}' is not a string`);
}

/**
 * A list-of-strings attribute as Keras 2 writes it: one array, or `name0`, `name1`, … chunks when
 * it would exceed the 64 KB HDF5 header limit. A layer without weights has an empty float array.
 */
function stringListAttr(object: Group, name: string, file: string): string[] | undefined {
  const attrs = object.attrs;
  const chunkNames: string[] = [];
  if (name in attrs) chunkNames.push(name);
  else for (let i = 0; `${name}${i}` in attrs; i++) chunkNames.push(`${name}${i}`);
  if (chunkNames.length === 0) return undefined;
  const values: string[] = [];
  for (const chunkName of chunkNames) {
    const value = attrValue(object, chunkName);
    if (typeof value === "string") {
      values.push(value);
    } else if (Array.isArray(value) && value.every((item) => typeof item === "string")) {
      values.push(...value);
    } else if (!(ArrayBuffer.isView(value) && value.byteLength === 0)) {
      throw new ZooFormatError(
        file,
        `attribute '${chunkName}' of '${object.path}' is not a list of strings`,
      );
    }
  }
  return values;
}

/** Reads one dataset as float32, checking its declared size before anything is allocated. */
function readDataset(
  group: Group,
  path: string,
  tensorName: string,
  source: Hdf5Source,
): NamedTensor {
  const dataset = group.get(path);
  const where = `${group.path === "/" ? "" : group.path}/${path}`;
  if (!(dataset instanceof h5wasm.Dataset)) {
    throw new ZooFormatError(source.file, `dataset '${where}' is missing`);
  }
  const metadata = dataset.metadata;
  if (metadata.shape === null) {
    throw new ZooFormatError(source.file, `dataset '${where}' has no dataspace`);
  }
  const shape = metadata.shape;
  const count = shape.reduce((product, dim) => product * dim, 1);
  const stored = storedFloat(dataset, where, source.file);
  if (count !== metadata.total_size) {
    throw new ZooFormatError(
      source.file,
      `dataset '${where}' has shape [${shape}] but ${metadata.total_size} elements`,
    );
  }
  const byteLength = count * metadata.size;
  // Keras never compresses, so a contiguous dataset must fit inside the file itself.
  const limit = metadata.chunks === null
    ? source.byteLength
    : hdf5Module(source.file).MAXIMUM_MEMORY;
  if (byteLength > limit) {
    throw new ZooFormatError(
      source.file,
      `dataset '${where}' declares shape [${shape}] (${byteLength} bytes), more than the ` +
        `${limit} bytes ${metadata.chunks === null ? "of the file" : "h5wasm can allocate"}`,
    );
  }
  const raw = readRawBytes(dataset, byteLength, where, source.file);
  return { name: tensorName, shape, dtype: "float32", data: decodeFloats(raw, stored) };
}

function storedFloat(dataset: Dataset, where: string, file: string): StoredFloat {
  const { type, size, vlen } = dataset.metadata;
  // Keras 3 writes bfloat16 variables as 2-byte datasets tagged with a dtype attribute.
  if (!vlen && size === 2 && attrValue(dataset, "dtype") === "bfloat16") return "bfloat16";
  if (!vlen && type === H5T_FLOAT) {
    if (size === 2) return "float16";
    if (size === 4) return "float32";
    if (size === 8) return "float64";
  }
  const kind = { [H5T_INTEGER]: "integer", [H5T_FLOAT]: "float" }[type] ?? `HDF5 class ${type}`;
  throw new ZooFormatError(
    file,
    `dataset '${where}' holds ${size}-byte ${kind} data; only float16/bfloat16/float32/float64 weights are read`,
  );
}

/**
 * The dataset's bytes as h5wasm's C side writes them (always little-endian). Read raw because
 * h5wasm's own value getter has no float16 support.
 */
function readRawBytes(
  dataset: Dataset,
  byteLength: number,
  where: string,
  file: string,
): Uint8Array {
  if (byteLength === 0) return new Uint8Array(0);
  const h5Module = hdf5Module(file);
  const pointer = h5Module._malloc(byteLength);
  if (pointer === 0) {
    throw new ZooFormatError(file, `cannot allocate ${byteLength} bytes for dataset '${where}'`);
  }
  try {
    h5Module.get_dataset_data(dataset.file_id, dataset.path, null, null, null, BigInt(pointer));
    return h5Module.HEAPU8.slice(pointer, pointer + byteLength);
  } catch (error) {
    throw new ZooFormatError(file, `cannot read dataset '${where}': ${hdf5Reason(error)}`);
  } finally {
    h5Module._free(pointer);
  }
}

/** `raw` must be a fresh, zero-offset copy so that typed views over its buffer are aligned. */
function decodeFloats(raw: Uint8Array, stored: StoredFloat): Float32Array {
  switch (stored) {
    case "float32":
      return new Float32Array(raw.buffer, 0, raw.byteLength / 4);
    case "float64":
      return Float32Array.from(new Float64Array(raw.buffer, 0, raw.byteLength / 8));
    case "float16":
      return float16BitsToFloat32(new Uint16Array(raw.buffer, 0, raw.byteLength / 2));
    case "bfloat16":
      return bfloat16BitsToFloat32(new Uint16Array(raw.buffer, 0, raw.byteLength / 2));
  }
}

// ---------------------------------------------------------------------------------------------
// Keras 3 (`.keras` zip and `.weights.h5`)

/** The members of a `.keras` zip this reader uses; the rest (assets/) is not inflated. */
const KERAS_ZIP_MEMBERS: ReadonlySet<string> = new Set([
  "model.weights.h5",
  "config.json",
  "metadata.json",
]);

function readKerasZip(bytes: Uint8Array, file: string): KerasFile {
  const names: string[] = [];
  const entries = readZip(bytes, file, {
    only: (name) => {
      names.push(name);
      return KERAS_ZIP_MEMBERS.has(name);
    },
  });
  const weights = entries.get("model.weights.h5");
  if (!weights) {
    throw new ZooFormatError(
      file,
      names.includes("model.weights.npz")
        ? "weights are stored as model.weights.npz, which this reader does not support"
        : `zip has no model.weights.h5 (found: ${names.join(", ")})`,
    );
  }
  const jsonMember = (name: string): JsonObject | undefined => {
    const member = entries.get(name);
    return member && parseJsonObject(new TextDecoder().decode(member), file, name);
  };
  const modelConfig = jsonMember("config.json");
  const metadata = jsonMember("metadata.json");
  const kerasVersion = metadata?.keras_version;
  const backend = metadata?.backend;
  const weightsSource: Hdf5Source = {
    file: `${file}/model.weights.h5`,
    byteLength: weights.length,
  };
  const layers = withHdf5(
    weights,
    weightsSource.file,
    (root) => readKeras3Layers(root, weightsSource, modelConfig),
  );
  return {
    format: "keras3",
    ...(typeof kerasVersion === "string" ? { kerasVersion } : {}),
    ...(typeof backend === "string" ? { backend } : {}),
    ...(modelConfig ? { modelConfig } : {}),
    layers,
  };
}

/** Keras 2.13's `.keras` files used `_layer_checkpoint_dependencies` where Keras 3 uses `layers`. */
function keras3Container(group: Group): Group | undefined {
  return childGroup(group, "layers") ?? childGroup(group, "_layer_checkpoint_dependencies");
}

function readKeras3Layers(
  root: Group,
  source: Hdf5Source,
  modelConfig?: JsonObject,
): KerasLayerWeights[] {
  const container = keras3Container(root);
  if (!container) {
    throw new ZooFormatError(source.file, "Keras 3 weights file has no 'layers' group");
  }
  // Subclassed models have no layer list in their config: then the keys are all there is.
  const entries = modelConfig && configLayers(modelConfig);
  return entries
    ? mapConfigLayers(container, entries, source)
    : walkContainer(container, "", source);
}

/**
 * Keras 3 keys each layer of a container by its snake_cased class name plus a counter in order of
 * appearance (`conv2d`, `conv2d_1`, …), not by its name; newer versions also put the layer name on
 * the `vars` group, which wins when present.
 */
function mapConfigLayers(
  container: Group,
  entries: JsonObject[],
  source: Hdf5Source,
): KerasLayerWeights[] {
  const keyByLayerName = new Map<string, string>();
  for (const key of container.keys()) {
    const variables = childGroup(container, `${key}/vars`);
    const savedName = variables && stringAttr(variables, "name", source.file);
    if (savedName !== undefined) keyByLayerName.set(savedName, key);
  }
  const classCounts = new Map<string, number>();
  const layers: KerasLayerWeights[] = [];
  for (const entry of entries) {
    // Raw ops (keras.ops.*) in a functional graph are operations, not layers, and have no group.
    if (typeof entry.module === "string" && entry.module.includes(".ops.")) continue;
    const name = layerName(entry, source.file);
    const entryClass = className(entry, source.file);
    const base = toSnakeCase(entryClass);
    const seen = classCounts.get(base);
    classCounts.set(base, seen === undefined ? 0 : seen + 1);
    const counterKey = seen === undefined ? base : `${base}_${seen + 1}`;
    const key = keyByLayerName.get(name) ?? counterKey;
    const layerGroup = childGroup(container, key);
    if (!layerGroup) {
      throw new ZooFormatError(
        source.file,
        `no group '${container.path}/${key}' for layer '${name}' (${entryClass})`,
      );
    }
    const nested = configLayers(entry);
    if (nested) {
      const nestedContainer = keras3Container(layerGroup);
      if (nestedContainer) layers.push(...mapConfigLayers(nestedContainer, nested, source));
      continue;
    }
    const variables = childGroup(layerGroup, "vars");
    const savedName = variables && stringAttr(variables, "name", source.file);
    if (savedName !== undefined && savedName !== name) {
      throw new ZooFormatError(
        source.file,
        `group '${layerGroup.path}' holds layer '${savedName}', expected '${name}' (${entryClass})`,
      );
    }
    const weights = variables ? readVariables(variables, name, variableNames(entry), source) : [];
    if (weights.length > 0) layers.push({ name, className: entryClass, weights });
  }
  return layers;
}

/** Without a config the keys are the only names; the order is by key, counters numerically. */
function walkContainer(container: Group, prefix: string, source: Hdf5Source): KerasLayerWeights[] {
  const layers: KerasLayerWeights[] = [];
  for (const key of container.keys().sort(compareLayerKeys)) {
    const layerGroup = childGroup(container, key);
    if (!layerGroup) continue;
    const variables = childGroup(layerGroup, "vars");
    if (variables) {
      const name = stringAttr(variables, "name", source.file) ?? `${prefix}${key}`;
      const weights = readVariables(variables, name, undefined, source);
      if (weights.length > 0) layers.push({ name, weights });
    }
    const nestedContainer = keras3Container(layerGroup);
    if (nestedContainer) layers.push(...walkContainer(nestedContainer, `${prefix}${key}/`, source));
  }
  return layers;
}

/** Orders `conv2d`, `conv2d_1`, `conv2d_2`, `conv2d_10` as Keras numbered them. */
function compareLayerKeys(a: string, b: string): number {
  const split = (key: string): [string, number] => {
    const match = /^(.*)_(\d+)$/.exec(key);
    return match ? [match[1], Number(match[2])] : [key, 0];
  };
  const [baseA, counterA] = split(a);
  const [baseB, counterB] = split(b);
  return baseA < baseB ? -1 : baseA > baseB ? 1 : counterA - counterB;
}

/** A layer's `vars/0`, `vars/1`, … as `<layer>/<variable>` tensors (index when the name is unknown). */
function readVariables(
  variables: Group,
  layer: string,
  names: string[] | undefined,
  source: Hdf5Source,
): NamedTensor[] {
  const keys = variables.keys();
  keys.forEach((key, _, all) => {
    if (!/^\d+$/.test(key) || Number(key) >= all.length) {
      throw new ZooFormatError(
        source.file,
        `'${variables.path}' has member '${key}'; expected variables numbered 0..${all.length - 1}`,
      );
    }
  });
  const ordered = keys.sort((a, b) => Number(a) - Number(b));
  const labels = names?.length === ordered.length ? names : ordered;
  return ordered.map((key, i) => readDataset(variables, key, `${layer}/${labels[i]}`, source));
}

/**
 * The variables Keras 3 creates for common layers, in creation order, each with the config flag
 * that omits it when false.
 */
const KERAS3_VARIABLES: Record<string, [variable: string, flag?: string][]> = {
  Conv1D: [["kernel"], ["bias", "use_bias"]],
  Conv2D: [["kernel"], ["bias", "use_bias"]],
  Conv3D: [["kernel"], ["bias", "use_bias"]],
  Conv2DTranspose: [["kernel"], ["bias", "use_bias"]],
  Dense: [["kernel"], ["bias", "use_bias"]],
  DepthwiseConv2D: [["depthwise_kernel"], ["bias", "use_bias"]],
  SeparableConv2D: [["depthwise_kernel"], ["pointwise_kernel"], ["bias", "use_bias"]],
  BatchNormalization: [
    ["gamma", "scale"],
    ["beta", "center"],
    ["moving_mean"],
    ["moving_variance"],
  ],
};

function variableNames(entry: JsonObject): string[] | undefined {
  const className = entry.class_name;
  const known = typeof className === "string" && Object.hasOwn(KERAS3_VARIABLES, className)
    ? KERAS3_VARIABLES[className]
    : undefined;
  const config = isObject(entry.config) ? entry.config : {};
  const present = known?.filter(([, flag]) => flag === undefined || config[flag] !== false);
  return present?.map(([variable]) => variable);
}

/** `keras.src.utils.naming.to_snake_case`, which names the container keys. */
function toSnakeCase(name: string): string {
  return name
    .replace(/\W+/g, "")
    .replace(/(.)([A-Z][a-z]+)/g, "$1_$2")
    .replace(/([a-z])([A-Z])/g, "$1_$2")
    .toLowerCase();
}

// ---------------------------------------------------------------------------------------------
// Model configs (shared by all formats)

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function parseJsonObject(text: string, file: string, what: string): JsonObject {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ZooFormatError(file, `${what} is not valid JSON: ${messageOf(error)}`);
  }
  if (!isObject(parsed)) throw new ZooFormatError(file, `${what} is not a JSON object`);
  return parsed;
}

/**
 * The layer entries of a model (or nested model) config: `config.layers`, or the bare list of old
 * Sequential configs; undefined for plain layers and subclassed models.
 */
function configLayers(modelConfig: JsonObject): JsonObject[] | undefined {
  const config = modelConfig.config;
  const entries = isObject(config) ? config.layers : config;
  return Array.isArray(entries) && entries.every(isObject) ? entries : undefined;
}

function layerName(entry: JsonObject, file: string): string {
  const name = entry.name ?? (isObject(entry.config) ? entry.config.name : undefined);
  if (typeof name !== "string") {
    throw new ZooFormatError(file, "a layer in the model config has no name");
  }
  return name;
}

function className(entry: JsonObject, file: string): string {
  if (typeof entry.class_name !== "string") {
    throw new ZooFormatError(
      file,
      `layer '${layerName(entry, file)}' in the model config has no class_name`,
    );
  }
  return entry.class_name;
}

// ---------------------------------------------------------------------------------------------
// TensorFlow.js layers models

function readTfjsLayers(
  bytes: Uint8Array,
  file: string,
  shards: Map<string, Uint8Array> | undefined,
): KerasFile {
  const model = parseJsonObject(new TextDecoder().decode(bytes), file, "model.json");
  if (model.format !== undefined && model.format !== "layers-model") {
    throw new ZooFormatError(
      file,
      `format ${
        describeJson(model.format)
      } is not a tfjs layers model; graph models have no Keras layers`,
    );
  }
  const topology = model.modelTopology;
  if (!isObject(topology)) throw new ZooFormatError(file, "model.json has no modelTopology object");
  const modelConfig = isObject(topology.model_config) ? topology.model_config : topology;
  const entries = configLayers(modelConfig);
  if (!entries) {
    throw new ZooFormatError(file, "modelTopology has no list of layers (config.layers)");
  }
  const manifest = model.weightsManifest;
  if (!Array.isArray(manifest) || !manifest.every(isObject)) {
    throw new ZooFormatError(file, "model.json has no weightsManifest list");
  }
  if (!shards) {
    throw new ZooFormatError(file, "a tfjs model.json needs its weight shards in options.shards");
  }
  const listedShards = new Set<string>();
  const tensors = manifest.flatMap((group, index) =>
    readManifestGroup(group, index, shards, listedShards, file)
  );

  const weightsByLayer = new Map<string, NamedTensor[]>(
    entries.map((entry) => [layerName(entry, file), []]),
  );
  // Longest match first, so that weights of a layer `a/b` are not taken by a layer `a`.
  const layerNames = [...weightsByLayer.keys()].sort((a, b) => b.length - a.length);
  for (const tensor of tensors) {
    const owner = layerNames.find((name) => tensor.name.startsWith(`${name}/`));
    if (owner === undefined) {
      throw new ZooFormatError(
        file,
        `weight '${tensor.name}' belongs to no layer of modelTopology`,
      );
    }
    weightsByLayer.get(owner)!.push(tensor);
  }
  const { keras_version: kerasVersion, backend } = topology;
  return {
    format: "tfjs-layers",
    ...(typeof kerasVersion === "string" ? { kerasVersion } : {}),
    ...(typeof backend === "string" ? { backend } : {}),
    modelConfig,
    layers: entries.flatMap((entry) => {
      const name = layerName(entry, file);
      const weights = weightsByLayer.get(name)!;
      return weights.length > 0 ? [{ name, className: className(entry, file), weights }] : [];
    }),
  };
}

/**
 * One manifest group: its shards concatenated in order, its weights read one after another.
 * `listedShards` collects the shards of all groups, none of which may be listed twice.
 */
function readManifestGroup(
  group: JsonObject,
  index: number,
  shards: Map<string, Uint8Array>,
  listedShards: Set<string>,
  file: string,
): NamedTensor[] {
  const { paths, weights } = group;
  if (!Array.isArray(paths) || !paths.every((path) => typeof path === "string")) {
    throw new ZooFormatError(file, `weightsManifest[${index}].paths is not a list of file names`);
  }
  if (!Array.isArray(weights) || !weights.every(isObject)) {
    throw new ZooFormatError(
      file,
      `weightsManifest[${index}].weights is not a list of weight specs`,
    );
  }
  const parts = paths.map((path) => {
    // Each shard holds its own weights; one listed a million times would be copied as often.
    if (listedShards.has(path)) {
      throw new ZooFormatError(file, `shard '${path}' is listed twice in weightsManifest`);
    }
    listedShards.add(path);
    const shard = shards.get(path);
    if (!shard) {
      throw new ZooFormatError(file, `shard '${path}' of weightsManifest[${index}] was not given`);
    }
    return shard;
  });
  const data = new Uint8Array(parts.reduce((total, part) => total + part.length, 0));
  let shardStart = 0;
  for (const part of parts) {
    data.set(part, shardStart);
    shardStart += part.length;
  }
  let offset = 0;
  return weights.map((spec) => {
    const tensor = decodeTfjsWeight(spec, data, offset, file);
    offset += tensor.byteLength;
    return tensor.tensor;
  });
}

/** Bytes per element of the quantized encodings tfjs-converter writes. */
const TFJS_QUANTIZED_BYTES: Record<string, number> = { uint8: 1, uint16: 2, float16: 2 };

function decodeTfjsWeight(
  spec: JsonObject,
  data: Uint8Array,
  offset: number,
  file: string,
): { tensor: NamedTensor; byteLength: number } {
  const { name, shape, dtype, quantization } = spec;
  if (typeof name !== "string") {
    throw new ZooFormatError(file, "a weightsManifest entry has no name");
  }
  if (!Array.isArray(shape) || !shape.every((dim) => Number.isSafeInteger(dim) && dim >= 0)) {
    throw new ZooFormatError(file, `weight '${name}' has an invalid shape`);
  }
  if (dtype !== "float32") {
    throw new ZooFormatError(
      file,
      `weight '${name}' has dtype ${describeJson(dtype)}; only float32 weights are read`,
    );
  }
  if (quantization !== undefined && !isObject(quantization)) {
    throw new ZooFormatError(file, `weight '${name}' has an invalid quantization entry`);
  }
  const encoding = quantization === undefined ? "float32" : quantization.dtype;
  const bytesPerElement = encoding === "float32"
    ? 4
    : typeof encoding === "string" && Object.hasOwn(TFJS_QUANTIZED_BYTES, encoding)
    ? TFJS_QUANTIZED_BYTES[encoding]
    : undefined;
  if (bytesPerElement === undefined) {
    throw new ZooFormatError(
      file,
      `weight '${name}' uses unsupported quantization ${describeJson(encoding)}`,
    );
  }
  const count = shape.reduce((product: number, dim: number) => product * dim, 1);
  const byteLength = count * bytesPerElement;
  const end = offset + byteLength;
  if (end > data.length) {
    throw new ZooFormatError(
      file,
      `weight '${name}' needs bytes ${offset}..${end} but its shards hold ${data.length} bytes`,
    );
  }
  // A copy starts at offset 0 of its own buffer, so the typed views below are aligned.
  const raw = data.slice(offset, end);
  let values: Float32Array;
  if (encoding === "float32") {
    values = new Float32Array(raw.buffer);
  } else if (encoding === "float16") {
    values = decodeFloats(raw, "float16");
  } else {
    const { scale, min } = quantization as JsonObject;
    if (typeof scale !== "number" || typeof min !== "number") {
      throw new ZooFormatError(
        file,
        `weight '${name}' is ${encoding}-quantized without numeric scale and min`,
      );
    }
    const levels = encoding === "uint8" ? raw : new Uint16Array(raw.buffer);
    values = Float32Array.from(levels, (level) => level * scale + min);
  }
  return { tensor: { name, shape, dtype: "float32", data: values }, byteLength };
}

/**
 * The shard files a tfjs model.json lists, read from beside it; a missing one is named.
 *
 * @example
 * ```ts
 * const path = "testdata/fixtures/keras_reader/tfjs/model.json";
 * const shards = readShards(await Deno.readFile(path), path);
 * console.log([...shards.keys()]); // [ "group1-shard1of2.bin", "group1-shard2of2.bin" ]
 * ```
 */
export function readShards(modelJson: Uint8Array, file: string): Map<string, Uint8Array> {
  const dir = file.includes("/") ? file.slice(0, file.lastIndexOf("/") + 1) : "";
  const manifest =
    JSON.parse(new TextDecoder().decode(modelJson)).weightsManifest as { paths: string[] }[] ?? [];
  const shards = new Map<string, Uint8Array>();
  for (const path of manifest.flatMap((group) => group.paths)) {
    try {
      shards.set(path, Deno.readFileSync(dir + path));
    } catch {
      throw new ZooFormatError(file, `weight shard '${path}' listed in the manifest is missing`);
    }
  }
  return shards;
}
