/**
 * The values a pickle decodes to, and the globals every pickle may use because they only build
 * plain data. The Python ↔ JavaScript mapping is in `pickle.ts`.
 *
 * @example
 * ```ts
 * import { PickleGlobal } from "./pickle_values.ts";
 * const size = new PickleGlobal("torch.Size", (args) => args[0] ?? []);
 * console.log(size.name); // torch.Size
 * ```
 *
 * @module
 */

/** A value rebuilt by a caller's global handler, tagged so callers can tell their objects apart. */
export interface PickleObject {
  /** The caller's tag, e.g. `"tensor"` or `"storage"`. */
  readonly kind: string;
}

/** Any value the unpickler produces; the module comment gives the Python ↔ JavaScript mapping. */
export type PickleValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PickleValue[]
  | Map<PickleValue, PickleValue>
  | Set<PickleValue>
  | PickleGlobal
  | PickleObject;

/**
 * Builds an object from a call of an allowed global (REDUCE, NEWOBJ, OBJ or INST) with its
 * positional arguments. It throws an `Error` for arguments it cannot accept, which the
 * unpickler reports as a {@link ZooFormatError} naming the global and the opcode's offset.
 */
export type PickleCallHandler = (args: readonly PickleValue[]) => PickleValue;

/**
 * A reference to an allowed global, pushed by GLOBAL/STACK_GLOBAL. Callers see it when a global
 * is used as a value rather than called, e.g. the storage class in a PyTorch persistent id.
 *
 * @example
 * ```ts
 * import { PickleGlobal } from "./pickle.ts";
 * const ref = new PickleGlobal("torch.FloatStorage", null);
 * console.log(ref.name); // "torch.FloatStorage"
 * ```
 */
export class PickleGlobal {
  /** The dotted name, `module.qualname`, e.g. `torch._utils._rebuild_tensor_v2`. */
  readonly name: string;
  /** Builds the object when the global is called; `null` when it may only be referenced. */
  readonly call: PickleCallHandler | null;

  /**
   * Wraps an allowed global's name and handler.
   *
   * @example
   * ```ts
   * import { PickleGlobal } from "./pickle.ts";
   * const size = new PickleGlobal("torch.Size", (args) => args[0] ?? []);
   * ```
   */
  constructor(name: string, call: PickleCallHandler | null) {
    this.name = name;
    this.call = call;
  }
}

/**
 * An object of a class that holds only data (`argparse.Namespace`, a numpy dtype or array):
 * its class, the arguments it was made with, and the state BUILD gave it. Nothing of it runs.
 *
 * @example
 * ```ts
 * import { PickleInstance } from "./pickle_values.ts";
 * const args = new PickleInstance("argparse.Namespace", []);
 * args.state = new Map([["lr", 0.1]]);
 * console.log(args.className, args.state); // argparse.Namespace Map(1) { "lr" => 0.1 }
 * ```
 */
export class PickleInstance implements PickleObject {
  /** Tells instances from other objects. */
  readonly kind = "instance";
  /** What BUILD set: a dict of attributes, or the class's own state tuple. */
  state: PickleValue = null;

  /**
   * Records an instance.
   *
   * @example
   * ```ts
   * import { PickleInstance } from "./pickle_values.ts";
   * console.log(new PickleInstance("numpy.dtype", ["f8", false, true]).args[0]); // f8
   * ```
   */
  constructor(readonly className: string, readonly args: readonly PickleValue[]) {}
}

/** A dict argument (or none) as a new `Map`. */
function dictOf(value: PickleValue | undefined, what: string): Map<PickleValue, PickleValue> {
  if (value === undefined || value === null) return new Map();
  if (!(value instanceof Map)) throw new TypeError(`${what} argument is not a dict`);
  return new Map(value);
}

/** numpy element types by their dtype code, as little-endian readers of a scalar's bytes. */
const NUMPY_SCALARS: Readonly<
  Record<string, (view: DataView, little: boolean) => number | bigint>
> = {
  f8: (v, le) => v.getFloat64(0, le),
  f4: (v, le) => v.getFloat32(0, le),
  i8: (v, le) => v.getBigInt64(0, le),
  u8: (v, le) => v.getBigUint64(0, le),
  i4: (v, le) => v.getInt32(0, le),
  u4: (v, le) => v.getUint32(0, le),
  i2: (v, le) => v.getInt16(0, le),
  u2: (v, le) => v.getUint16(0, le),
  i1: (v) => v.getInt8(0),
  u1: (v) => v.getUint8(0),
  b1: (v) => v.getUint8(0),
};

/** `numpy.core.multiarray.scalar(dtype, bytes)`: the number, else the scalar as an instance. */
const numpyScalar = (className: string) => (args: readonly PickleValue[]): PickleValue => {
  const [dtype, bytes] = args;
  if (dtype instanceof PickleInstance && bytes instanceof Uint8Array) {
    const read = NUMPY_SCALARS[String(dtype.args[0])];
    const order = Array.isArray(dtype.state) ? dtype.state[1] : "<";
    const size = Number(String(dtype.args[0]).slice(1));
    if (read && bytes.length === size) {
      const value = read(new DataView(bytes.buffer, bytes.byteOffset, bytes.length), order !== ">");
      return typeof value === "bigint" && Number.isSafeInteger(Number(value))
        ? Number(value)
        : value;
    }
  }
  return new PickleInstance(className, args);
};

/** A class whose objects are plain data: recorded, never constructed. */
const instanceOf = (className: string): PickleCallHandler => (args) =>
  new PickleInstance(className, args);

/**
 * Globals that only build plain data, so every pickle may use them, as PyTorch's `weights_only`
 * loader allows them (and training scripts save them beside their weights): dicts
 * (`collections.OrderedDict`, `Counter`, `defaultdict`), sets, `bytes` as protocols 0–2 write them
 * (`_codecs.encode(text, "latin1")`), `argparse.Namespace` (torchvision's reference scripts save
 * their arguments), paths, numpy scalars, dtypes and arrays. Builtin types such as `builtins.list`
 * may only be referenced (a `defaultdict`'s factory), never called. Anything else a pickle names,
 * `os.system` or `builtins.eval` above all, is refused.
 */
export const DATA_GLOBALS: Readonly<Record<string, PickleCallHandler | null>> = {
  "collections.OrderedDict": ([items]) => {
    const dict = new Map<PickleValue, PickleValue>();
    if (items === undefined) return dict;
    if (!Array.isArray(items)) throw new TypeError("OrderedDict argument is not a list of pairs");
    for (const pair of items) {
      if (!Array.isArray(pair) || pair.length !== 2) {
        throw new TypeError("OrderedDict argument is not a list of pairs");
      }
      dict.set(pair[0], pair[1]);
    }
    return dict;
  },
  "collections.Counter": ([items]) => dictOf(items, "Counter"),
  "collections.defaultdict": ([factory]) => {
    if (factory !== undefined && factory !== null && !(factory instanceof PickleGlobal)) {
      throw new TypeError("defaultdict factory is not a type");
    }
    return new Map();
  },
  "builtins.set": ([items]) => new Set(Array.isArray(items) ? items : []),
  "builtins.frozenset": ([items]) => new Set(Array.isArray(items) ? items : []),
  "builtins.bytearray": ([data]) => (data instanceof Uint8Array ? data : new Uint8Array()),
  ...Object.fromEntries(
    ["list", "dict", "int", "float", "str", "tuple", "bool", "bytes"].map((
      t,
    ) => [`builtins.${t}`, null]),
  ),
  "_codecs.encode": ([text, encoding]) => {
    if (typeof text !== "string" || (encoding !== "latin1" && encoding !== "latin-1")) {
      throw new TypeError("only encode(str, 'latin1') is supported");
    }
    return Uint8Array.from(text, (char) => {
      const code = char.charCodeAt(0);
      if (code > 0xff) throw new TypeError("text is not latin-1");
      return code;
    });
  },
  "argparse.Namespace": instanceOf("argparse.Namespace"),
  ...Object.fromEntries(
    ["PosixPath", "WindowsPath", "PurePosixPath", "PureWindowsPath"].map((cls) => [
      `pathlib.${cls}`,
      (parts: readonly PickleValue[]) => parts.map(String).join("/"),
    ]),
  ),
  ...Object.fromEntries(["numpy.core", "numpy._core"].flatMap((core) => [
    [`${core}.multiarray.scalar`, numpyScalar("numpy.generic")],
    [`${core}.multiarray._reconstruct`, instanceOf("numpy.ndarray")],
  ])),
  "numpy.dtype": instanceOf("numpy.dtype"),
  "numpy.ndarray": null,
};
