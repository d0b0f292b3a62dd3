/**
 * Reads the tensors of a PyTorch `torch.save` checkpoint (a state_dict) without running Python
 * or any code from the file.
 *
 * Both formats torch writes are supported: the zip archive of torch ≥ 1.6
 * (`<root>/data.pkl` plus one `<root>/data/<key>` record per storage) and the legacy stream
 * of earlier versions (magic number, protocol, sys_info and object pickles, the storage key
 * list, then each storage's bytes). The pickles are decoded by the restricted unpickler in
 * `pickle.ts`, which allows only the globals torch uses to rebuild tensors.
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
import { type PickleCallHandler, PickleGlobal, type PickleValue, readPickle } from "./pickle.ts";
import type { NamedTensor, TensorDType } from "./tensor.ts";
import { ZooFormatError } from "../arch/errors.ts";
import { readZip } from "./zip.ts";

/** The tensors of a checkpoint and the container format they came from. */
export interface PytorchCheckpoint {
  /** The state_dict's tensors in stored order, `module.` prefixes stripped. */
  tensors: NamedTensor[];
  /** `zip` for torch ≥ 1.6 archives, `legacy` for the older pickle stream. */
  format: "zip" | "legacy";
}

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

/** Picks a checkpoint's state_dict: the dict under `state_dict` or `model`, else the top dict. */
function stateDict(value: PickleValue, file: string): Map<PickleValue, PickleValue> {
  if (!(value instanceof Map)) {
    throw new ZooFormatError(file, "the checkpoint is not a dict of tensors");
  }
  for (const wrapper of ["state_dict", "model"]) {
    const inner = value.get(wrapper);
    if (inner instanceof Map) return inner;
  }
  return value;
}

/** The named tensors of a state_dict (non-tensor entries such as `_extra_state` are skipped). */
function tensorEntries(value: PickleValue, file: string): [string, TensorRef][] {
  const entries: [string, TensorRef][] = [];
  for (const [key, tensor] of stateDict(value, file)) {
    if (typeof key === "string" && tensor instanceof TensorRef) {
      entries.push([key.startsWith("module.") ? key.slice("module.".length) : key, tensor]);
    }
  }
  if (entries.length === 0) throw new ZooFormatError(file, "the checkpoint holds no tensors");
  return entries;
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
function readTorchZip(bytes: Uint8Array, file: string): NamedTensor[] {
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
  const { value } = readPickle(headers.get(pickleName)!, `${file}:${pickleName}`, {
    globals: torchGlobals,
    persistentLoad: storages.load,
  });
  const entries = tensorEntries(value, file);
  const wanted = new Set(entries.map(([, tensor]) => `${root}data/${tensor.storage.root.key}`));
  const data = readZip(bytes, file, { only: (name) => wanted.has(name) });
  const records = new Map<string, Uint8Array>();
  for (const key of storages.roots.keys()) {
    const record = data.get(`${root}data/${key}`);
    if (record !== undefined) records.set(key, record);
  }
  return entries.map(([name, tensor]) =>
    materialize(name, tensor, records, order === "little", file)
  );
}

/** Reads a pre-1.6 stream: magic, protocol, sys_info, objects, storage keys, storage bytes. */
function readLegacy(bytes: Uint8Array, file: string): NamedTensor[] {
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
  const objects = readPickle(bytes, file, {
    offset: sysInfo.end,
    globals: torchGlobals,
    persistentLoad: storages.load,
  });
  const entries = tensorEntries(objects.value, file);
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
  return entries.map(([name, tensor]) => materialize(name, tensor, records, littleEndian, file));
}

/**
 * Reads the state_dict tensors of a `torch.save` checkpoint, zip or legacy.
 *
 * A top-level dict holding a `state_dict` or `model` dict is unwrapped, non-tensor entries are
 * skipped and `module.` (DataParallel) prefixes are stripped. Float16/bfloat16/float64 storages
 * become float32, int64 stays int64, int32/int16/int8 become int32, uint8 and bool stay bytes.
 * Views with any strides are copied out row-major.
 *
 * @param bytes the whole file.
 * @param file the file name used in error messages.
 * @returns the tensors in stored order and the container format.
 * @throws {ZooFormatError} for a file that is not a torch checkpoint, a TorchScript archive, a
 *   global other than torch's tensor rebuilders (e.g. `os.system`), a missing storage record
 *   or truncated data.
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
    return { tensors: readTorchZip(bytes, file), format: "zip" };
  }
  if (bytes.length > 262 && new TextDecoder().decode(bytes.subarray(257, 262)) === "ustar") {
    throw new ZooFormatError(file, "tar-based checkpoints of torch 0.1 are not supported");
  }
  // A legacy stream starts with a binary pickle (PROTO 2 unless pickle_protocol was raised).
  if (bytes[0] !== 0x80 || !(bytes[1] >= 2 && bytes[1] <= 5)) {
    throw new ZooFormatError(file, "not a PyTorch checkpoint: no zip signature or legacy magic");
  }
  return { tensors: readLegacy(bytes, file), format: "legacy" };
}
