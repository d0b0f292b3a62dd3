/**
 * HDF5 files read through h5wasm, guarded against what corrupt files do to it: every read runs in
 * {@link withHdf5} (h5wasm started on first use, HDF5 errors deferred until each call returns,
 * memory growth bounded, stack and temporary file restored), and groups, string attributes and
 * float datasets are read only after their declared sizes are checked against the file.
 *
 * h5wasm opens files by name from the host's file system, so each HDF5 file is written to a
 * temporary file (which needs write permission for the temporary directory) for the duration of
 * the read.
 *
 * @example
 * ```ts
 * import { readDataset, withHdf5 } from "./hdf5.ts";
 * const file = "testdata/fixtures/keras_reader/applications_weights.h5";
 * const bias = await withHdf5(await Deno.readFile(file), file, (root, source) =>
 *   readDataset(root, "predictions/predictions/bias:0", "bias", source));
 * console.log(bias.shape, bias.dtype); // [ 3 ] float32
 * ```
 *
 * @module
 */

import { messageOf, ZooFormatError } from "../../arch/errors.ts";
import { bfloat16BitsToFloat32, float16BitsToFloat32 } from "../float16.ts";
import { type H5wasm, type H5wasmInstance, loadH5wasm } from "../libraries.ts";
import type { NamedTensor } from "../tensor.ts";
import type { Dataset, File as Hdf5File, Group } from "h5wasm/node";

/** What every read of an HDF5 file needs: the file to name in errors, its size, h5wasm. */
export interface Hdf5Source {
  /** The file named in errors. */
  file: string;
  /** The file's size, which bounds what its datasets may declare. */
  byteLength: number;
  /** The started h5wasm. */
  h5: H5wasm;
}

/** How the elements of an HDF5 dataset are stored; only floating-point weights are read. */
type StoredFloat = "float16" | "bfloat16" | "float32" | "float64";

/** The HDF5 type classes in h5wasm's dataset metadata. */
const H5T_INTEGER = 0;
const H5T_FLOAT = 1;
const H5T_STRING = 3;

/**
 * Opens HDF5 bytes and runs `read` on the root group. h5wasm is started on the first read; it
 * opens files by name only, so the bytes go into its file system for the read. HDF5's errors are
 * switched from printing to throwing for the read, then turned into ZooFormatErrors. `read` is
 * synchronous, so two reads never interleave.
 *
 * @param bytes The HDF5 file's contents.
 * @param file The file named in errors.
 * @param read Reads what it needs from the root group; `source` goes to the helpers below.
 * @throws {ZooFormatError} If h5wasm cannot start, the bytes are no readable HDF5, or `read` fails.
 *
 * @example
 * ```ts
 * import { hdf5StringAttr, withHdf5 } from "./hdf5.ts";
 * const file = "testdata/fixtures/keras_reader/applications_weights.h5";
 * const version = await withHdf5(await Deno.readFile(file), file, (root, source) =>
 *   hdf5StringAttr(root, "keras_version", source.file));
 * console.log(version); // 2.2.4
 * ```
 */
export async function withHdf5<T>(
  bytes: Uint8Array,
  file: string,
  read: (root: Group, source: Hdf5Source) => T,
): Promise<T> {
  let h5: H5wasm;
  try {
    h5 = await loadH5wasm();
  } catch (error) {
    throw new ZooFormatError(file, `the HDF5 reader (h5wasm) could not start: ${messageOf(error)}`);
  }
  const { module: h5Module, instance } = h5;
  checkGlobalHeaps(bytes, file);
  // h5wasm's file system is the host's (Node's raw file system), so the file goes to a temporary one.
  let temporaryName: string;
  try {
    temporaryName = Deno.makeTempFileSync({ prefix: "denozoo-keras-", suffix: ".h5" });
  } catch (error) {
    throw new ZooFormatError(file, `cannot create a temporary file for HDF5: ${messageOf(error)}`);
  }
  const stackPointer = instance?.stackPointer();
  // h5wasm reads a variable-length string attribute into a buffer from _malloc and frees the
  // strings it points to even when the read failed, i.e. frees whatever the buffer held: a
  // corrupt attribute made malloc abort or corrupted its heap. Zeroed buffers make that free(NULL).
  const malloc = h5Module._malloc;
  h5Module._malloc = (size: number): number => {
    const pointer = malloc(size);
    if (pointer !== 0) h5Module.HEAPU8.fill(0, pointer, pointer + size);
    return pointer;
  };
  limitMemoryGrowth(instance, bytes.length);
  h5.deferredErrors = [];
  try {
    h5Module.FS.writeFile(temporaryName, bytes);
    h5Module.activate_throwing_error_handler();
    let root: Hdf5File;
    try {
      root = new h5.api.File(temporaryName, "r");
    } catch (error) {
      throw new ZooFormatError(file, `cannot open as HDF5: ${hdf5Reason(error)}`);
    }
    let result: T;
    try {
      result = read(root, { file, byteLength: bytes.length, h5 });
    } finally {
      root.close();
    }
    // An error reported by a call that is not wrapped still fails the read.
    if (h5.deferredErrors?.length) throw new Error(h5.deferredErrors.join("\n"));
    return result;
  } catch (error) {
    if (error instanceof ZooFormatError) throw error;
    throw new ZooFormatError(file, `HDF5 read failed: ${hdf5Reason(error)}`);
  } finally {
    h5.deferredErrors = undefined;
    h5Module.deactivate_throwing_error_handler();
    h5Module._malloc = malloc;
    limitMemoryGrowth(instance, undefined);
    Deno.removeSync(temporaryName);
    // A WebAssembly trap or abort still unwinds through the frames without popping them.
    if (stackPointer !== undefined) instance?.restoreStack(stackPointer);
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
function limitMemoryGrowth(
  instance: H5wasmInstance | undefined,
  fileBytes: number | undefined,
): void {
  const memory = instance?.memory;
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

/** The subgroup `name` of `group`, if there is one. */
export function childGroup(group: Group, name: string, source: Hdf5Source): Group | undefined {
  const child = group.get(name);
  return child instanceof source.h5.api.Group ? child : undefined;
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

/**
 * A string attribute of a group or dataset.
 *
 * @throws {ZooFormatError} If the attribute is there but not a string.
 */
export function hdf5StringAttr(
  object: Group | Dataset,
  name: string,
  file: string,
): string | undefined {
  const value = attrValue(object, name);
  if (value === undefined) return undefined;
  if (typeof value === "string") return value;
  throw new ZooFormatError(file, `attribute '${name}' of '${object.path}' is not a string`);
}

/**
 * A list-of-strings attribute as Keras 2 writes it: one array, or `name0`, `name1`, … chunks when
 * it would exceed the 64 KB HDF5 header limit. A layer without weights has an empty float array.
 */
export function hdf5StringListAttr(
  object: Group,
  name: string,
  file: string,
): string[] | undefined {
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
export function readDataset(
  group: Group,
  path: string,
  tensorName: string,
  source: Hdf5Source,
): NamedTensor {
  const dataset = group.get(path);
  const where = `${group.path === "/" ? "" : group.path}/${path}`;
  if (!(dataset instanceof source.h5.api.Dataset)) {
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
  const limit = metadata.chunks === null ? source.byteLength : source.h5.module.MAXIMUM_MEMORY;
  if (byteLength > limit) {
    throw new ZooFormatError(
      source.file,
      `dataset '${where}' declares shape [${shape}] (${byteLength} bytes), more than the ` +
        `${limit} bytes ${metadata.chunks === null ? "of the file" : "h5wasm can allocate"}`,
    );
  }
  const raw = readRawBytes(dataset, byteLength, where, source);
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
  { file, h5 }: Hdf5Source,
): Uint8Array {
  if (byteLength === 0) return new Uint8Array(0);
  const h5Module = h5.module;
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
