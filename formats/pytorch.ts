/**
 * Reads the tensors of a PyTorch `torch.save` checkpoint (a state_dict) without running Python
 * or any code from the file.
 *
 * Both formats torch writes are supported: the zip archive of torch ≥ 1.6
 * (`<root>/data.pkl` plus one `<root>/data/<key>` record per storage) and the legacy stream
 * of earlier versions (magic number, protocol, sys_info and object pickles, the storage key
 * list, then each storage's bytes). The pickles are decoded by the restricted unpickler in
 * `pickle.ts`, which allows only the globals torch uses to rebuild tensors and plain data.
 *
 * @example
 * ```ts
 * import { readPytorch } from "./pytorch.ts";
 * const { tensors, format } = readPytorch(
 *   await Deno.readFile("testdata/cifar10-resnet/resnet20-12fca82f.th"),
 *   "resnet20-12fca82f.th",
 * );
 * console.log(format, tensors[0].name, tensors[0].shape); // legacy conv1.weight [ 16, 3, 3, 3 ]
 * ```
 *
 * @module
 */

import { startsWithSignature, ZIP_SIGNATURE } from "./detect.ts";
import { bfloat16ToFloat32, float16ToFloat32 } from "./float16.ts";
import {
  type PickleCallHandler,
  PickleGlobal,
  type PickleValue,
  readPickle,
  type UnpickleOptions,
} from "./pickle.ts";
import { findStateDict, type FoundStateDict } from "./pytorch_wrappers.ts";
import type { NamedTensor, TensorDType } from "./tensor.ts";
import { ZooFormatError } from "../arch/errors.ts";
import { readZip } from "./zip.ts";

/** The tensors of a checkpoint and the container format they came from. */
export interface PytorchCheckpoint {
  /** The state_dict's tensors in stored order, wrapping prefixes (`module.`, …) stripped. */
  tensors: NamedTensor[];
  /** `zip` for torch ≥ 1.6 archives, `legacy` for the older pickle stream. */
  format: "zip" | "legacy";
  /** Where in the checkpoint the state_dict was, and what else it holds (see `pytorch_wrappers.ts`). */
  stateDict: Omit<FoundStateDict<unknown>, "entries">;
}

/** A checkpoint's tensors and where they were found. */
type Found = Pick<PytorchCheckpoint, "tensors" | "stateDict">;

const withoutEntries = ({ entries: _, ...rest }: FoundStateDict<unknown>) => rest;

/** How one storage class's elements are stored and what they decode to. */
interface StorageElement {
  /** Bytes per element in the file. */
  size: number;
  /** Element type of the decoded tensor. */
  dtype: TensorDType;
  /** Decodes `count` packed elements. */
  decode(view: DataView, count: number, littleEndian: boolean): NamedTensor["data"];
}

/** An element type decoded to float32, read by `read` from the element at `offset`. */
function floatElement(
  size: number,
  read: (view: DataView, offset: number, littleEndian: boolean) => number,
): StorageElement {
  return {
    size,
    dtype: "float32",
    decode(view, count, littleEndian) {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = read(view, i * size, littleEndian);
      return out;
    },
  };
}

/** A signed integer type decoded to int32. */
function intElement(
  size: number,
  read: (view: DataView, offset: number, littleEndian: boolean) => number,
): StorageElement {
  return {
    size,
    dtype: "int32",
    decode(view, count, littleEndian) {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = read(view, i * size, littleEndian);
      return out;
    },
  };
}

/** A one-byte type kept as bytes. */
function byteElement(dtype: TensorDType): StorageElement {
  return {
    size: 1,
    dtype,
    decode: (view, count) => new Uint8Array(view.buffer, view.byteOffset, count).slice(),
  };
}

/** The storage classes torch pickles by name, as globals the unpickler may reference. */
const storageElements: Readonly<Record<string, StorageElement>> = {
  "torch.FloatStorage": floatElement(4, (v, o, le) => v.getFloat32(o, le)),
  "torch.DoubleStorage": floatElement(8, (v, o, le) => v.getFloat64(o, le)),
  "torch.HalfStorage": floatElement(2, (v, o, le) => float16ToFloat32(v.getUint16(o, le))),
  "torch.BFloat16Storage": floatElement(2, (v, o, le) => bfloat16ToFloat32(v.getUint16(o, le))),
  "torch.IntStorage": intElement(4, (v, o, le) => v.getInt32(o, le)),
  "torch.ShortStorage": intElement(2, (v, o, le) => v.getInt16(o, le)),
  "torch.CharStorage": intElement(1, (v, o) => v.getInt8(o)),
  "torch.LongStorage": {
    size: 8,
    dtype: "int64",
    decode(view, count, littleEndian) {
      const out = new BigInt64Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getBigInt64(i * 8, littleEndian);
      return out;
    },
  },
  "torch.ByteStorage": byteElement("uint8"),
  "torch.BoolStorage": byteElement("bool"),
};

/** One storage's record in the file: `data/<key>` in a zip, a section of a legacy stream. */
interface StorageRoot {
  key: string;
  element: StorageElement;
  /** Element count the pickle declared. */
  numel: number;
}

/** A storage as the pickle sees it: a whole record, or (legacy views) a slice of one. */
class StorageRef {
  readonly kind = "storage";
  constructor(
    readonly root: StorageRoot,
    /** First element of this storage within the root's record. */
    readonly offset: number,
    readonly numel: number,
  ) {}
}

/** A tensor as `torch._utils._rebuild_tensor[_v2]` describes it; its data is read later. */
class TensorRef {
  readonly kind = "tensor";
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly size: readonly number[],
    readonly stride: readonly number[],
  ) {}
}

/** Checks that a pickled value is a non-negative integer usable as an index. */
function isIndex(value: PickleValue): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

/** Checks a tuple of sizes or strides. */
function indexTuple(value: PickleValue, what: string): number[] {
  if (!Array.isArray(value) || !value.every(isIndex)) {
    throw new TypeError(`${what} is not a tuple of non-negative ints`);
  }
  return value as number[];
}

/**
 * `_rebuild_tensor[_v2](storage, storage_offset, size, stride, ...)`; the later arguments
 * (requires_grad, backward hooks, metadata) do not affect the data.
 */
const rebuildTensor: PickleCallHandler = ([storage, offset, size, stride]) => {
  if (!(storage instanceof StorageRef)) throw new TypeError("first argument is not a storage");
  if (!isIndex(offset)) throw new TypeError("storage offset is not a non-negative int");
  const sizes = indexTuple(size, "size");
  const strides = indexTuple(stride, "stride");
  if (sizes.length !== strides.length) throw new TypeError("size and stride differ in rank");
  return new TensorRef(storage, offset, sizes, strides);
};

/** `_rebuild_parameter(data, requires_grad, hooks[, state])`: a Parameter is its tensor. */
const rebuildParameter: PickleCallHandler = ([data]) => {
  if (!(data instanceof TensorRef)) throw new TypeError("parameter data is not a tensor");
  return data;
};

/** Every global a state_dict pickle may name; the unpickler refuses all others. */
const torchGlobals: Readonly<Record<string, PickleCallHandler | null>> = {
  "torch._utils._rebuild_tensor": rebuildTensor,
  "torch._utils._rebuild_tensor_v2": rebuildTensor,
  "torch._utils._rebuild_parameter": rebuildParameter,
  "torch._utils._rebuild_parameter_with_state": rebuildParameter,
  "torch.Size": ([dims]) => indexTuple(dims ?? [], "torch.Size"),
  "torch.device": ([type, index]) => {
    if (typeof type !== "string") throw new TypeError("device type is not a string");
    return isIndex(index ?? null) ? `${type}:${index}` : type;
  },
  ...Object.fromEntries(Object.keys(storageElements).map((name) => [name, null])),
  // Element types (an optimizer's or an argument's dtype) are only referenced.
  ...Object.fromEntries(
    [
      "float32",
      "float64",
      "float16",
      "bfloat16",
      "int64",
      "int32",
      "int16",
      "int8",
      "uint8",
      "bool",
    ]
      .map((t) => [`torch.${t}`, null]),
  ),
};

/**
 * Resolves `('storage', storage_type, key, location, numel)` persistent ids (legacy files add
 * `view_metadata`, `None` or `(view_key, offset, view_size)`), one root per key.
 */
class StorageTable {
  readonly roots: Map<string, StorageRoot> = new Map();
  readonly #views = new Map<string, StorageRef>();

  constructor(readonly format: "zip" | "legacy") {}

  load = (pid: PickleValue): StorageRef => {
    const fields = this.format === "zip" ? 5 : 6;
    if (!Array.isArray(pid) || pid.length !== fields || pid[0] !== "storage") {
      throw new TypeError(`persistent id is not a ${fields}-field ('storage', ...) tuple`);
    }
    const [, type, key, , numel, view] = pid;
    if (!(type instanceof PickleGlobal) || !Object.hasOwn(storageElements, type.name)) {
      throw new TypeError("persistent id does not name a storage class");
    }
    if (typeof key !== "string" || !isIndex(numel)) {
      throw new TypeError("persistent id has a bad key or element count");
    }
    const element = storageElements[type.name];
    const root = this.roots.get(key) ?? { key, element, numel };
    if (root.element !== element || root.numel !== numel) {
      throw new TypeError(`storage '${key}' is declared twice with different types or sizes`);
    }
    this.roots.set(key, root);
    if (view === undefined || view === null) return new StorageRef(root, 0, numel);
    const [viewKey, offset, viewSize] = Array.isArray(view) ? view : [];
    if (typeof viewKey !== "string" || !isIndex(offset) || !isIndex(viewSize)) {
      throw new TypeError("storage view metadata is not (key, offset, size)");
    }
    if (offset + viewSize > numel) {
      throw new TypeError(`storage view '${viewKey}' runs past storage '${key}'`);
    }
    const ref = this.#views.get(viewKey) ?? new StorageRef(root, offset, viewSize);
    this.#views.set(viewKey, ref);
    return ref;
  };
}

/** The state_dict of an unpickled checkpoint (see `findStateDict`). */
function tensorEntries(value: PickleValue, file: string): FoundStateDict<TensorRef> {
  if (!(value instanceof Map)) {
    throw new ZooFormatError(file, "the checkpoint is not a dict of tensors");
  }
  const found = findStateDict(value, (v): v is TensorRef => v instanceof TensorRef);
  if (!found) {
    const keys = [...value.keys()].slice(0, 12).map(String).join(", ");
    throw new ZooFormatError(file, `the checkpoint holds no tensors (its keys: ${keys || "none"})`);
  }
  return found;
}

/** The package of every `nn.Module` class, as a pickle names it. */
const MODULE_CLASSES = new TextEncoder().encode("torch.nn.modules");

/** Whether `bytes` holds `pattern` at or after `from`. */
function contains(bytes: Uint8Array, pattern: Uint8Array, from = 0): boolean {
  for (let i = bytes.indexOf(pattern[0], from); i >= 0; i = bytes.indexOf(pattern[0], i + 1)) {
    if (pattern.every((b, k) => bytes[i + k] === b)) return true;
  }
  return false;
}

/**
 * Reads one of a checkpoint's pickles. A whole pickled `nn.Module` (`torch.save(model)`) names
 * the model's classes, which only running the code that defines them could rebuild: it is
 * refused with what to do instead, not with the first class the unpickler met.
 */
function unpickle(bytes: Uint8Array, label: string, file: string, options: UnpickleOptions) {
  try {
    return readPickle(bytes, label, options);
  } catch (error) {
    if (error instanceof ZooFormatError && contains(bytes, MODULE_CLASSES, options.offset)) {
      throw new ZooFormatError(
        file,
        "this is a whole pickled nn.Module (torch.save(model)), which only its own Python classes " +
          "can load; save its weights with torch.save(model.state_dict(), path), or export the " +
          "network with torch.onnx.export and run the .onnx file, which carries the graph",
      );
    }
    throw error;
  }
}

/**
 * Copies a tensor's elements out of its storage record in row-major order and decodes them.
 * `records` maps storage keys to their raw bytes.
 */
function materialize(
  name: string,
  tensor: TensorRef,
  records: ReadonlyMap<string, Uint8Array>,
  littleEndian: boolean,
  file: string,
): NamedTensor {
  const { storage, size, stride } = tensor;
  const { root } = storage;
  const record = records.get(root.key);
  if (record === undefined) {
    throw new ZooFormatError(file, `tensor '${name}': missing storage record '${root.key}'`);
  }
  const elementSize = root.element.size;
  if (record.length < root.numel * elementSize) {
    throw new ZooFormatError(
      file,
      `tensor '${name}': storage '${root.key}' has ${record.length} bytes, ` +
        `expected ${root.numel * elementSize} (truncated?)`,
    );
  }
  const numel = size.reduce((product, dim) => product * dim, 1);
  const lastIndex = size.reduce((last, dim, d) => last + (dim - 1) * stride[d], tensor.offset);
  if (numel > 0 && (lastIndex >= storage.numel || numel > storage.numel)) {
    throw new ZooFormatError(
      file,
      `tensor '${name}': shape [${size}] with strides [${stride}] at offset ${tensor.offset} ` +
        `does not fit its storage of ${storage.numel} elements`,
    );
  }
  const packed = new Uint8Array(numel * elementSize);
  const base = storage.offset + tensor.offset;
  if (isRowMajor(size, stride)) {
    packed.set(record.subarray(base * elementSize, (base + numel) * elementSize));
  } else {
    gatherStrided(record, packed, elementSize, base, size, stride);
  }
  const view = new DataView(packed.buffer);
  return {
    name,
    shape: [...size],
    dtype: root.element.dtype,
    data: root.element.decode(view, numel, littleEndian),
  };
}

/** Whether strides describe a contiguous row-major layout (size-1 dims may have any stride). */
function isRowMajor(size: readonly number[], stride: readonly number[]): boolean {
  let expected = 1;
  for (let d = size.length - 1; d >= 0; d--) {
    if (size[d] !== 1 && stride[d] !== expected) return false;
    expected *= size[d];
  }
  return true;
}

/** Copies a strided view into `packed` row-major, one innermost row at a time. */
function gatherStrided(
  record: Uint8Array,
  packed: Uint8Array,
  elementSize: number,
  base: number,
  size: readonly number[],
  stride: readonly number[],
): void {
  const rank = size.length;
  const rowLength = size[rank - 1];
  const rowStride = stride[rank - 1];
  const index = new Array<number>(rank - 1).fill(0);
  let written = 0;
  while (written < packed.length) {
    let start = base;
    for (let d = 0; d < rank - 1; d++) start += index[d] * stride[d];
    for (let k = 0; k < rowLength; k++) {
      const from = (start + k * rowStride) * elementSize;
      packed.set(record.subarray(from, from + elementSize), written);
      written += elementSize;
    }
    for (let d = rank - 2; d >= 0 && ++index[d] === size[d]; d--) index[d] = 0;
  }
}

/** `0x1950a86a20f9469cfc6c`, the first pickle of every legacy torch.save stream. */
const legacyMagic = 0x1950a86a20f9469cfc6cn;
const legacyProtocol = 1001;

/** Reads a torch ≥ 1.6 zip archive. */
function readTorchZip(bytes: Uint8Array, file: string): Found {
  const names: string[] = [];
  const headers = readZip(bytes, file, {
    only: (name) => {
      names.push(name);
      return /^[^/]+\/(data\.pkl|byteorder)$/.test(name);
    },
  });
  const pickleName = names.find((name) => /^[^/]+\/data\.pkl$/.test(name));
  if (pickleName === undefined) {
    throw new ZooFormatError(
      file,
      "zip archive has no '<archive>/data.pkl': not a torch.save file",
    );
  }
  const root = pickleName.slice(0, -"data.pkl".length);
  if (names.includes(`${root}constants.pkl`)) {
    throw new ZooFormatError(
      file,
      "this is a TorchScript archive (torch.jit.save); " +
        "save model.state_dict() with torch.save instead",
    );
  }
  const byteorder = headers.get(`${root}byteorder`);
  const order = byteorder === undefined ? "little" : new TextDecoder().decode(byteorder).trim();
  if (order !== "little" && order !== "big") {
    throw new ZooFormatError(file, `record '${root}byteorder' says '${order}'`);
  }

  const storages = new StorageTable("zip");
  const { value } = unpickle(headers.get(pickleName)!, `${file}:${pickleName}`, file, {
    globals: torchGlobals,
    persistentLoad: storages.load,
  });
  const found = tensorEntries(value, file);
  const entries = found.entries;
  const wanted = new Set(entries.map(([, tensor]) => `${root}data/${tensor.storage.root.key}`));
  const data = readZip(bytes, file, { only: (name) => wanted.has(name) });
  const records = new Map<string, Uint8Array>();
  for (const key of storages.roots.keys()) {
    const record = data.get(`${root}data/${key}`);
    if (record !== undefined) records.set(key, record);
  }
  return {
    tensors: entries.map(([name, tensor]) =>
      materialize(name, tensor, records, order === "little", file)
    ),
    stateDict: withoutEntries(found),
  };
}

/** Reads a pre-1.6 stream: magic, protocol, sys_info, objects, storage keys, storage bytes. */
function readLegacy(bytes: Uint8Array, file: string): Found {
  const magic = readPickle(bytes, file);
  if (magic.value !== legacyMagic) {
    throw new ZooFormatError(file, "not a PyTorch checkpoint: no zip signature or legacy magic");
  }
  const protocol = readPickle(bytes, file, { offset: magic.end });
  if (protocol.value !== legacyProtocol) {
    throw new ZooFormatError(file, `unsupported legacy protocol version ${protocol.value}`);
  }
  const sysInfo = readPickle(bytes, file, { offset: protocol.end });
  const littleEndian =
    !(sysInfo.value instanceof Map && sysInfo.value.get("little_endian") === false);

  const storages = new StorageTable("legacy");
  const objects = unpickle(bytes, file, file, {
    offset: sysInfo.end,
    globals: torchGlobals,
    persistentLoad: storages.load,
  });
  const found = tensorEntries(objects.value, file);
  const entries = found.entries;
  const keys = readPickle(bytes, file, { offset: objects.end });
  if (!Array.isArray(keys.value) || !keys.value.every((key) => typeof key === "string")) {
    throw new ZooFormatError(file, `offset ${objects.end}: storage key list is not a list of str`);
  }

  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const records = new Map<string, Uint8Array>();
  let pos = keys.end;
  for (const key of keys.value as string[]) {
    const root = storages.roots.get(key);
    if (root === undefined) {
      throw new ZooFormatError(file, `storage '${key}' is listed but no tensor declares its type`);
    }
    if (pos + 8 > bytes.length) {
      throw new ZooFormatError(file, `offset ${pos}: truncated before storage '${key}'`);
    }
    const count = view.getBigInt64(pos, littleEndian);
    if (count !== BigInt(root.numel)) {
      throw new ZooFormatError(
        file,
        `offset ${pos}: storage '${key}' holds ${count} elements, ` +
          `the pickle declared ${root.numel}`,
      );
    }
    const length = root.numel * root.element.size;
    if (pos + 8 + length > bytes.length) {
      throw new ZooFormatError(
        file,
        `offset ${pos}: storage '${key}' needs ${length} bytes, ` +
          `${bytes.length - pos - 8} left (truncated)`,
      );
    }
    records.set(key, bytes.subarray(pos + 8, pos + 8 + length));
    pos += 8 + length;
  }
  return {
    tensors: entries.map(([name, tensor]) =>
      materialize(name, tensor, records, littleEndian, file)
    ),
    stateDict: withoutEntries(found),
  };
}

/**
 * Reads the state_dict tensors of a `torch.save` checkpoint, zip or legacy.
 *
 * The state_dict is found wherever training scripts put it (`state_dict`, `model`, `net`,
 * `state`, `model_state_dict`, … nested once or twice, an EMA copy only when it is the only one;
 * see `pytorch_wrappers.ts`), non-tensor entries are skipped and prefixes every key shares
 * (`module.`, `model.`, `_orig_mod.`) are stripped. Float16/bfloat16/float64 storages
 * become float32, int64 stays int64, int32/int16/int8 become int32, uint8 and bool stay bytes.
 * Views with any strides are copied out row-major.
 *
 * @param bytes the whole file.
 * @param file the file name used in error messages.
 * @returns the tensors in stored order and the container format.
 * @throws {ZooFormatError} for a file that is not a torch checkpoint, a TorchScript archive, a
 *   whole pickled `nn.Module`, a global other than torch's tensor rebuilders and plain data
 *   (e.g. `os.system`), a missing storage record or truncated data.
 *
 * @example
 * ```ts
 * import { readPytorch } from "./pytorch.ts";
 * const file = "testdata/fixtures/nets/tv_basic.pth";
 * const { tensors } = readPytorch(await Deno.readFile(file), file);
 * const fc = tensors.find((t) => t.name === "fc.weight");
 * console.log(fc?.shape); // [ 10, 32 ]
 * ```
 */
export function readPytorch(bytes: Uint8Array, file: string): PytorchCheckpoint {
  if (startsWithSignature(bytes, ZIP_SIGNATURE)) {
    return { ...readTorchZip(bytes, file), format: "zip" };
  }
  if (bytes.length > 262 && new TextDecoder().decode(bytes.subarray(257, 262)) === "ustar") {
    throw new ZooFormatError(file, "tar-based checkpoints of torch 0.1 are not supported");
  }
  // A legacy stream starts with a binary pickle (PROTO 2 unless pickle_protocol was raised).
  if (bytes[0] !== 0x80 || !(bytes[1] >= 2 && bytes[1] <= 5)) {
    throw new ZooFormatError(file, "not a PyTorch checkpoint: no zip signature or legacy magic");
  }
  return { ...readLegacy(bytes, file), format: "legacy" };
}
