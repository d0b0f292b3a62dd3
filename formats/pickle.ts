/**
 * A restricted Python unpickler (protocols 0–5) for reading checkpoints without running
 * any of their code.
 *
 * It rebuilds only plain data: `None`, booleans, ints, floats, str, bytes, lists, tuples,
 * dicts and sets, and the data-only globals of `pickle_values.ts` (`OrderedDict`, `Counter`,
 * `argparse.Namespace`, numpy scalars, …; a data-only object becomes a `PickleInstance`). Every
 * other object must come from a global the caller explicitly allows, and is then built by the caller's handler; any other
 * GLOBAL/STACK_GLOBAL/INST is refused the moment its opcode is read, which gives the same
 * guarantee as PyTorch's `weights_only=True` loader: nothing in the file can name code that runs.
 *
 * Python values map to JavaScript as: `None` → `null`; int → `number` when it is a safe
 * integer, otherwise `bigint`; float → `number`; str → `string`; bytes/bytearray →
 * `Uint8Array`; list → array; tuple → frozen array; dict and OrderedDict → `Map` (insertion
 * order kept; tuple keys compare by identity); set/frozenset → `Set`.
 *
 * @example
 * ```ts
 * import { readPickle } from "./pickle.ts";
 * // pickle.dumps({"a": [1, 2.5]}, protocol=2)
 * const bytes = new Uint8Array([
 *   0x80, 2, 0x7d, 0x71, 0, 0x58, 1, 0, 0, 0, 0x61, 0x71, 1, 0x5d, 0x71, 2,
 *   0x28, 0x4b, 1, 0x47, 0x40, 4, 0, 0, 0, 0, 0, 0, 0x65, 0x73, 0x2e,
 * ]);
 * console.log(readPickle(bytes, "a.pkl").value); // Map(1) { "a" => [1, 2.5] }
 * ```
 *
 * @module
 */

import { ZooFormatError } from "../arch/errors.ts";
import {
  DATA_GLOBALS,
  type PickleCallHandler,
  PickleGlobal,
  PickleInstance,
  type PickleObject,
  type PickleValue,
} from "./pickle_values.ts";
import {
  decimalInt,
  decodeQuotedString,
  decodeRawUnicodeEscape,
  latin1,
  littleEndianSigned,
  MAX_INT_DIGITS,
  toPythonInt,
  utf8,
} from "./pickle_text.ts";

export {
  type PickleCallHandler,
  PickleGlobal,
  PickleInstance,
  type PickleObject,
  type PickleValue,
};

/** What the unpickler may do beyond building plain data. */
export interface UnpickleOptions {
  /** Byte offset of the pickle's first opcode within the buffer (default 0). */
  offset?: number;
  /**
   * Globals the pickle may name, by dotted name, besides the data-only ones of
   * `pickle_values.ts` (`DATA_GLOBALS`), which are always allowed.
   * A handler builds the object when the global is called; `null` allows only a reference.
   */
  globals?: Readonly<Record<string, PickleCallHandler | null>>;
  /**
   * Resolves a persistent id (PERSID/BINPERSID); without it such ids are an error. Like a
   * {@link PickleCallHandler} it throws an `Error` for ids it cannot accept.
   */
  persistentLoad?: (pid: PickleValue) => PickleValue;
}

/** A decoded pickle and where it ended. */
export interface UnpickleResult {
  /** The object the pickle's STOP returned. */
  value: PickleValue;
  /** Offset just past the STOP opcode, where a following pickle or raw data starts. */
  end: number;
}

/**
 * Decodes one pickle starting at `options.offset`, refusing every global not allowed.
 *
 * @param bytes the buffer holding the pickle (it may continue with other data after STOP).
 * @param file the file name used in error messages.
 * @param options allowed globals, the persistent-id resolver and the start offset.
 * @returns the decoded value and the offset after its STOP opcode.
 * @throws {ZooFormatError} for a refused global, an unknown opcode, a truncated pickle or a
 *   malformed stack, naming the opcode's offset.
 *
 * @example
 * ```ts
 * import { readPickle } from "./pickle.ts";
 * // pickle.dumps((1, "a"), protocol=2)
 * const bytes = new Uint8Array([
 *   0x80, 2, 0x4b, 1, 0x58, 1, 0, 0, 0, 0x61, 0x71, 0, 0x86, 0x71, 1, 0x2e,
 * ]);
 * const { value, end } = readPickle(bytes, "example.pkl");
 * console.log(value, end); // [1, "a"] 16
 * ```
 */
export function readPickle(
  bytes: Uint8Array,
  file: string,
  options: UnpickleOptions = {},
): UnpickleResult {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const allowed = options.globals ?? {};
  const stack: PickleValue[] = [];
  /** Stack heights at each open MARK. */
  const marks: number[] = [];
  const memo = new Map<number, PickleValue>();
  let pos = options.offset ?? 0;
  /** Offset of the opcode being executed, for error messages. */
  let at = pos;

  const fail = (message: string): never => {
    throw new ZooFormatError(file, `pickle offset ${at}: ${message}`);
  };
  const need = (count: number): number => {
    if (count < 0 || pos + count > bytes.length) {
      fail(`truncated: needs ${count} more bytes, ${Math.max(0, bytes.length - pos)} left`);
    }
    const start = pos;
    pos += count;
    return start;
  };
  const take = (count: number): Uint8Array => {
    const start = need(count);
    return bytes.slice(start, start + count);
  };
  const u8 = (): number => bytes[need(1)];
  const u16 = (): number => view.getUint16(need(2), true);
  const u32 = (): number => view.getUint32(need(4), true);
  const u64 = (): number => {
    const length = view.getBigUint64(need(8), true);
    if (length > BigInt(bytes.length)) fail(`length ${length} exceeds the file size`);
    return Number(length);
  };
  const line = (): string => {
    const newline = bytes.indexOf(0x0a, pos);
    if (newline < 0) fail("truncated: unterminated text argument");
    const text = latin1(bytes.subarray(pos, newline));
    pos = newline + 1;
    return text;
  };
  const decodeUtf8 = (data: Uint8Array): string => {
    try {
      return utf8.decode(data);
    } catch {
      return fail("string is not valid UTF-8");
    }
  };

  const pop = (): PickleValue => {
    const floor = marks.length > 0 ? marks[marks.length - 1] : 0;
    if (stack.length <= floor) fail("stack underflow");
    return stack.pop() as PickleValue;
  };
  const top = (): PickleValue => {
    const floor = marks.length > 0 ? marks[marks.length - 1] : 0;
    if (stack.length <= floor) fail("stack underflow");
    return stack[stack.length - 1];
  };
  const popMark = (): PickleValue[] => {
    const mark = marks.pop();
    if (mark === undefined) return fail("no MARK on the stack");
    return stack.splice(mark);
  };
  const tuple = (items: PickleValue[]): PickleValue[] => Object.freeze(items) as PickleValue[];
  const list = (value: PickleValue): PickleValue[] => {
    if (!Array.isArray(value) || Object.isFrozen(value)) fail("APPEND target is not a list");
    return value as PickleValue[];
  };
  const dict = (value: PickleValue): Map<PickleValue, PickleValue> => {
    if (!(value instanceof Map)) fail("SETITEM target is not a dict");
    return value as Map<PickleValue, PickleValue>;
  };
  const setItems = (target: Map<PickleValue, PickleValue>, items: PickleValue[]): void => {
    if (items.length % 2 !== 0) fail("odd number of items for a dict");
    for (let i = 0; i < items.length; i += 2) target.set(items[i], items[i + 1]);
  };

  /** Resolves a global name against the allow-list; anything else is refused on the spot. */
  const resolveGlobal = (module: string, name: string): PickleGlobal => {
    // Protocols 0–2 name Python 3's `builtins` by its Python 2 name, as Python's own loader maps.
    const dotted = `${module === "__builtin__" ? "builtins" : module}.${name}`;
    const handler = Object.hasOwn(allowed, dotted)
      ? allowed[dotted]
      : Object.hasOwn(DATA_GLOBALS, dotted)
      ? DATA_GLOBALS[dotted]
      : undefined;
    if (handler === undefined) fail(`refusing global '${dotted}'`);
    return new PickleGlobal(dotted, handler as PickleCallHandler | null);
  };
  /** Runs a caller's handler, reporting what it rejects with the opcode's offset. */
  const guarded = (what: string, handler: () => PickleValue): PickleValue => {
    try {
      return handler();
    } catch (error) {
      if (error instanceof ZooFormatError) throw error;
      return fail(`${what}: ${error instanceof Error ? error.message : error}`);
    }
  };
  const call = (callable: PickleValue, args: PickleValue): PickleValue => {
    if (!(callable instanceof PickleGlobal)) return fail("calling an object that is not a global");
    if (!Array.isArray(args)) return fail(`arguments of '${callable.name}' are not a tuple`);
    const handler = callable.call;
    if (handler === null) return fail(`global '${callable.name}' may not be called`);
    return guarded(`'${callable.name}'`, () => handler(args));
  };
  const persistent = (pid: PickleValue): PickleValue => {
    const load = options.persistentLoad;
    if (load === undefined) return fail("persistent id without a resolver");
    return guarded("persistent id", () => load(pid));
  };
  const memoIndex = (text: string): number => {
    if (!/^[0-9]+$/.test(text)) fail(`bad memo index '${text}'`);
    return Number(text);
  };
  const memoGet = (index: number): PickleValue => {
    if (!memo.has(index)) fail(`memo entry ${index} is missing`);
    return memo.get(index) as PickleValue;
  };
  const textInt = (text: string): number | bigint => {
    if (text.length > MAX_INT_DIGITS + 1) fail(`integer of ${text.length} digits is too long`);
    if (!decimalInt.test(text)) fail(`bad integer '${text}'`);
    return toPythonInt(BigInt(text));
  };

  for (;;) {
    at = pos;
    const opcode = u8();
    switch (opcode) {
      case 0x80: { // PROTO
        const protocol = u8();
        if (protocol > 5) fail(`unsupported pickle protocol ${protocol}`);
        break;
      }
      case 0x95: { // FRAME: only a read-ahead hint, but it must fit the buffer
        const length = u64();
        if (pos + length > bytes.length) fail(`frame of ${length} bytes runs past the end`);
        break;
      }
      case 0x2e: // STOP
        if (marks.length > 0 || stack.length !== 1) fail("STOP with a malformed stack");
        return { value: stack[0], end: pos };

      // --- stack and memo
      case 0x28: // MARK
        marks.push(stack.length);
        break;
      case 0x30: // POP
        if (marks.length > 0 && stack.length === marks[marks.length - 1]) popMark();
        else pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x70: // PUT
        memo.set(memoIndex(line()), top());
        break;
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x67: // GET
        stack.push(memoGet(memoIndex(line())));
        break;
      case 0x68: // BINGET
        stack.push(memoGet(u8()));
        break;
      case 0x6a: // LONG_BINGET
        stack.push(memoGet(u32()));
        break;

      // --- scalars
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4a: // BININT
        stack.push(view.getInt32(need(4), true));
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x8a: // LONG1
        stack.push(toPythonInt(littleEndianSigned(take(u8()))));
        break;
      case 0x8b: { // LONG4
        const length = view.getInt32(need(4), true);
        stack.push(toPythonInt(littleEndianSigned(take(length))));
        break;
      }
      case 0x49: { // INT (text; protocol 0 spells booleans 00 and 01)
        const text = line();
        stack.push(text === "00" ? false : text === "01" ? true : textInt(text));
        break;
      }
      case 0x4c: // LONG (text)
        stack.push(textInt(line().replace(/L$/, "")));
        break;
      case 0x47: // BINFLOAT (big-endian double)
        stack.push(view.getFloat64(need(8), false));
        break;
      case 0x46: { // FLOAT (text)
        const text = line().trim();
        const special: Record<string, number> = { inf: Infinity, "-inf": -Infinity, nan: NaN };
        const value = Object.hasOwn(special, text) ? special[text] : Number(text);
        if (text === "" || Number.isNaN(value) && text !== "nan") fail(`bad float '${text}'`);
        stack.push(value);
        break;
      }

      // --- strings and bytes
      case 0x58: // BINUNICODE
        stack.push(decodeUtf8(take(u32())));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(decodeUtf8(take(u8())));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(decodeUtf8(take(u64())));
        break;
      case 0x56: { // UNICODE (raw-unicode-escape text)
        const text = decodeRawUnicodeEscape(line());
        if (text === null) fail("\\U escape beyond U+10FFFF in UNICODE argument");
        stack.push(text);
        break;
      }
      case 0x54: { // BINSTRING: Python 2 str, decoded as UTF-8 like torch.load does
        const length = view.getInt32(need(4), true);
        stack.push(decodeUtf8(take(length)));
        break;
      }
      case 0x55: // SHORT_BINSTRING
        stack.push(decodeUtf8(take(u8())));
        break;
      case 0x53: { // STRING (quoted text repr)
        const decoded = decodeQuotedString(line());
        if (decoded === null) fail("bad quoted STRING argument");
        stack.push(decodeUtf8(Uint8Array.from(decoded as string, (c) => c.charCodeAt(0))));
        break;
      }
      case 0x42: // BINBYTES
        stack.push(take(u32()));
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(take(u8()));
        break;
      case 0x8e: // BINBYTES8
      case 0x96: // BYTEARRAY8
        stack.push(take(u64()));
        break;

      // --- containers
      case 0x29: // EMPTY_TUPLE
        stack.push(tuple([]));
        break;
      case 0x74: // TUPLE
        stack.push(tuple(popMark()));
        break;
      case 0x85: // TUPLE1
        stack.push(tuple([pop()]));
        break;
      case 0x86: { // TUPLE2
        const second = pop();
        stack.push(tuple([pop(), second]));
        break;
      }
      case 0x87: { // TUPLE3
        const third = pop();
        const second = pop();
        stack.push(tuple([pop(), second, third]));
        break;
      }
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x6c: // LIST
        stack.push(popMark());
        break;
      case 0x61: { // APPEND
        const item = pop();
        list(top()).push(item);
        break;
      }
      case 0x65: { // APPENDS: item by item, as a spread of a million items overflows the stack
        const items = popMark();
        const target = list(top());
        for (const item of items) target.push(item);
        break;
      }
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x64: { // DICT
        const target = new Map<PickleValue, PickleValue>();
        setItems(target, popMark());
        stack.push(target);
        break;
      }
      case 0x73: { // SETITEM
        const value = pop();
        const key = pop();
        dict(top()).set(key, value);
        break;
      }
      case 0x75: { // SETITEMS
        const items = popMark();
        setItems(dict(top()), items);
        break;
      }
      case 0x8f: // EMPTY_SET
        stack.push(new Set());
        break;
      case 0x90: { // ADDITEMS
        const items = popMark();
        const target = top();
        if (!(target instanceof Set)) fail("ADDITEMS target is not a set");
        for (const item of items) (target as Set<PickleValue>).add(item);
        break;
      }
      case 0x91: // FROZENSET
        stack.push(new Set(popMark()));
        break;

      // --- globals and object construction
      case 0x63: { // GLOBAL
        const module = line();
        stack.push(resolveGlobal(module, line()));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== "string" || typeof name !== "string") {
          fail("STACK_GLOBAL needs two strings");
        }
        stack.push(resolveGlobal(module as string, name as string));
        break;
      }
      case 0x69: { // INST: names its class inline, so it is checked like GLOBAL
        const module = line();
        const callable = resolveGlobal(module, line());
        stack.push(call(callable, popMark()));
        break;
      }
      case 0x6f: { // OBJ
        const [callable, ...args] = popMark();
        stack.push(call(callable ?? null, args));
        break;
      }
      case 0x52: // REDUCE
      case 0x81: { // NEWOBJ: cls.__new__(cls, *args) is a call of the class for allowed globals
        const args = pop();
        stack.push(call(pop(), args));
        break;
      }
      case 0x92: { // NEWOBJ_EX
        const kwargs = pop();
        const args = pop();
        if (!(kwargs instanceof Map) || kwargs.size > 0) fail("NEWOBJ_EX keyword arguments");
        stack.push(call(pop(), args));
        break;
      }
      case 0x62: { // BUILD
        const state = pop();
        const target = top();
        // A data-only instance keeps its state. A dict's BUILD state sets Python attributes
        // (torch's state_dict carries `_metadata` this way), which are not items: dropped.
        if (target instanceof PickleInstance) target.state = state;
        else if (!(target instanceof Map) || !(state instanceof Map)) {
          fail("BUILD is only supported for data-only objects and attributes of a dict");
        }
        break;
      }
      case 0x50: // PERSID
        stack.push(persistent(line()));
        break;
      case 0x51: // BINPERSID
        stack.push(persistent(pop()));
        break;

      case 0x82: // EXT1
      case 0x83: // EXT2
      case 0x84: // EXT4
        return fail("copyreg extension codes are not supported");
      case 0x97: // NEXT_BUFFER
      case 0x98: // READONLY_BUFFER
        return fail("out-of-band buffers are not supported");
      default:
        return fail(`unknown pickle opcode 0x${opcode.toString(16).padStart(2, "0")}`);
    }
  }
}
