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
 * Globals that only build plain data, so every pickle may use them: `collections.OrderedDict`
 * (a `Map`, like dict) and `_codecs.encode`, which protocols 0–2 use to write `bytes` as
 * `encode(text, "latin1")`. PyTorch's `weights_only` loader allows both too.
 */
export const DATA_GLOBALS: Readonly<Record<string, PickleCallHandler>> = {
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
};
