/**
 * The fuzzer's input generator: a seeded PRNG and mutations of valid seed files, generic
 * (bit flips, boundary values, chunk duplication and deletion, truncation) and format-aware
 * (inflating the size and length fields a format's reader must check, rewriting JSON
 * documents). Every input is a pure function of (seed, target, index), so any finding can be
 * replayed from its index alone.
 *
 * @example
 * ```ts
 * import { mutate, Rng } from "./mutate.ts";
 * const rng = new Rng(42);
 * const input = mutate(rng, new TextEncoder().encode('{"a": [1, 2]}'), { fields: [] });
 * console.log(input.length);
 * ```
 *
 * @module
 */

/**
 * A small, fast 32-bit PRNG (mulberry32); the fuzzer never uses `Math.random`, so runs repeat.
 *
 * @example
 * ```ts
 * import { Rng } from "./mutate.ts";
 * const rng = new Rng(7);
 * console.log(rng.below(10), rng.chance(0.5));
 * ```
 */
export class Rng {
  #state: number;

  /**
   * Starts the sequence of `seed`.
   *
   * @example
   * ```ts
   * import { Rng } from "./mutate.ts";
   * new Rng(1).next(); // the same number on every run
   * ```
   */
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /**
   * A uniform unsigned 32-bit integer.
   *
   * @example
   * ```ts
   * import { Rng } from "./mutate.ts";
   * new Rng(1).next() < 2 ** 32; // true
   * ```
   */
  next(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /**
   * A uniform integer in [0, n).
   *
   * @example
   * ```ts
   * import { Rng } from "./mutate.ts";
   * new Rng(1).below(6); // a die roll minus one
   * ```
   */
  below(n: number): number {
    return Math.floor((this.next() / 2 ** 32) * n);
  }

  /**
   * True with probability `p`.
   *
   * @example
   * ```ts
   * import { Rng } from "./mutate.ts";
   * new Rng(1).chance(0.25);
   * ```
   */
  chance(p: number): boolean {
    return this.next() / 2 ** 32 < p;
  }

  /**
   * A uniformly chosen item.
   *
   * @example
   * ```ts
   * import { Rng } from "./mutate.ts";
   * new Rng(1).pick(["a", "b", "c"]);
   * ```
   */
  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)];
  }
}

/**
 * Mixes numbers into one 32-bit seed (murmur3's finalizer after each part), so that input `i`
 * of target `t` under run seed `s` gets its own independent stream.
 *
 * @example
 * ```ts
 * import { mixSeed } from "./mutate.ts";
 * mixSeed(1, 2, 3) === mixSeed(1, 2, 3); // true
 * ```
 */
export function mixSeed(...parts: number[]): number {
  let hash = 0x9e3779b9;
  for (const part of parts) {
    hash ^= part >>> 0;
    hash = Math.imul(hash ^ (hash >>> 16), 0x85ebca6b);
    hash = Math.imul(hash ^ (hash >>> 13), 0xc2b2ae35);
    hash ^= hash >>> 16;
  }
  return hash >>> 0;
}

/**
 * A 32-bit hash of a string (FNV-1a), to turn target names into seed parts.
 *
 * @example
 * ```ts
 * import { hashString } from "./mutate.ts";
 * hashString("onnx");
 * ```
 */
export function hashString(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  }
  return hash >>> 0;
}

/** A fixed-width unsigned integer field. */
export interface FixedField {
  /** Where the field starts. */
  offset: number;
  /** Its width in bytes. */
  width: 1 | 2 | 3 | 4 | 8;
  /** Its byte order. */
  littleEndian: boolean;
}

/** An unsigned integer field of a seed: a length, a size, a count or a dimension. */
export type SizeField = FixedField | { offset: number; varint: true };

/** What a target knows about its format, for the format-aware mutations. */
export interface FormatHints {
  /** Size, length and count fields found in the seed. */
  fields: SizeField[];
  /**
   * A structure-aware rewrite (a JSON node replaced, a zip member mutated and re-packed);
   * `undefined` when the input does not parse.
   */
  structured?: (rng: Rng, bytes: Uint8Array) => Uint8Array | undefined;
}

const BOUNDARY_BYTES: readonly number[] = [0x00, 0x01, 0x7f, 0x80, 0xff];
const BOUNDARY_INTS: readonly bigint[] = [
  0n,
  1n,
  0x7fn,
  0x80n,
  0xffn,
  0x7fffn,
  0x8000n,
  0xffffn,
  0x10000n,
  0x7fffffffn,
  0x80000000n,
  0xffffffffn,
  0x100000000n,
  2n ** 53n + 1n,
  2n ** 63n - 1n,
  2n ** 64n - 1n,
];
/** Replacements for a run of ASCII digits in a text header (JSON, a Python dict). */
const NUMBER_TEXTS: readonly string[] = [
  "0",
  "-1",
  "1e309",
  "4294967296",
  "9007199254740993",
  "99999999999999999999",
  "1.5",
  "NaN",
  "",
];

/**
 * Applies one to five random mutations to a copy of `seed`.
 *
 * @param rng The input's random stream.
 * @param seed A valid file of the target's format.
 * @param hints The format's size fields and structure-aware rewrite.
 * @returns The mutated input (never `seed` itself).
 *
 * @example
 * ```ts
 * import { mutate, Rng } from "./mutate.ts";
 * const seed = new Uint8Array([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
 * const input = mutate(new Rng(3), seed, { fields: [{ offset: 8, width: 2, littleEndian: true }] });
 * ```
 */
export function mutate(rng: Rng, seed: Uint8Array, hints: FormatHints): Uint8Array {
  let bytes: Uint8Array = seed.slice();
  const count = rng.chance(0.5) ? 1 : rng.chance(0.6) ? 2 : 3 + rng.below(3);
  for (let step = 0; step < count; step++) bytes = mutateOnce(rng, bytes, hints);
  return bytes;
}

function mutateOnce(rng: Rng, bytes: Uint8Array, hints: FormatHints): Uint8Array {
  const roll = rng.below(100);
  if (roll < 12 && hints.structured) {
    const rewritten = hints.structured(rng, bytes);
    if (rewritten) return rewritten;
  }
  if (roll < 27 && hints.fields.length > 0) {
    const field = rng.pick(hints.fields);
    if (field.offset < bytes.length) return inflateField(rng, bytes, field);
  }
  if (bytes.length === 0) return insertChunk(rng, bytes);
  if (roll < 42) return flipBits(rng, bytes);
  if (roll < 49) return setBoundaryByte(rng, bytes);
  if (roll < 57) return setBoundaryInt(rng, bytes);
  if (roll < 65) return inflateSmallInt(rng, bytes);
  if (roll < 72) return replaceDigits(rng, bytes);
  if (roll < 79) return insertChunk(rng, bytes);
  if (roll < 86) return deleteChunk(rng, bytes);
  if (roll < 90) return randomBytes(rng, bytes);
  return truncate(rng, bytes);
}

function flipBits(rng: Rng, bytes: Uint8Array): Uint8Array {
  for (let n = 1 + rng.below(8); n > 0; n--) bytes[rng.below(bytes.length)] ^= 1 << rng.below(8);
  return bytes;
}

function setBoundaryByte(rng: Rng, bytes: Uint8Array): Uint8Array {
  bytes[rng.below(bytes.length)] = rng.pick(BOUNDARY_BYTES);
  return bytes;
}

function setBoundaryInt(rng: Rng, bytes: Uint8Array): Uint8Array {
  const width = rng.pick([2, 4, 8] as const);
  const offset = rng.below(bytes.length);
  writeUint(bytes, { offset, width, littleEndian: rng.chance(0.7) }, rng.pick(BOUNDARY_INTS));
  return bytes;
}

/** Looks forward from a random offset for a small little-endian u32 (likely a size) and inflates it. */
function inflateSmallInt(rng: Rng, bytes: Uint8Array): Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const start = rng.below(bytes.length);
  for (let offset = start; offset + 4 <= bytes.length && offset < start + 512; offset++) {
    const value = view.getUint32(offset, true);
    if (value > 0 && value < 1 << 24) {
      const wide = offset + 8 <= bytes.length && view.getUint32(offset + 4, true) === 0;
      return inflateField(rng, bytes, { offset, width: wide ? 8 : 4, littleEndian: true });
    }
  }
  return flipBits(rng, bytes);
}

function replaceDigits(rng: Rng, bytes: Uint8Array): Uint8Array {
  const isDigit = (byte: number) => byte >= 0x30 && byte <= 0x39;
  const start = rng.below(bytes.length);
  let at = -1;
  for (let i = 0; i < bytes.length; i++) {
    const candidate = (start + i) % bytes.length;
    if (isDigit(bytes[candidate])) {
      at = candidate;
      break;
    }
  }
  if (at < 0) return flipBits(rng, bytes);
  while (at > 0 && isDigit(bytes[at - 1])) at--;
  let end = at;
  while (end < bytes.length && isDigit(bytes[end])) end++;
  const original = BigInt(new TextDecoder().decode(bytes.subarray(at, end)));
  const text = rng.chance(0.3)
    ? String(original * BigInt(1 + rng.below(1 << 20)) + BigInt(rng.below(3)) - 1n)
    : rng.pick(NUMBER_TEXTS);
  return splice(bytes, at, end, new TextEncoder().encode(text));
}

function insertChunk(rng: Rng, bytes: Uint8Array): Uint8Array {
  if (bytes.length === 0) return Uint8Array.from({ length: 1 + rng.below(16) }, () => rng.next());
  const length = 1 + rng.below(Math.min(bytes.length, rng.chance(0.8) ? 64 : 4096));
  const from = rng.below(bytes.length - length + 1);
  const chunk = bytes.slice(from, from + length);
  const at = rng.below(bytes.length + 1);
  return splice(bytes, at, at, chunk);
}

function deleteChunk(rng: Rng, bytes: Uint8Array): Uint8Array {
  const length = 1 + rng.below(Math.min(bytes.length, rng.chance(0.8) ? 64 : 4096));
  const at = rng.below(bytes.length - length + 1);
  return splice(bytes, at, at + length, new Uint8Array(0));
}

function randomBytes(rng: Rng, bytes: Uint8Array): Uint8Array {
  const length = 1 + rng.below(Math.min(bytes.length, 32));
  const at = rng.below(bytes.length - length + 1);
  for (let i = 0; i < length; i++) bytes[at + i] = rng.next();
  return bytes;
}

function truncate(rng: Rng, bytes: Uint8Array): Uint8Array {
  const cut = rng.chance(0.5)
    ? rng.below(bytes.length)
    : Math.max(0, bytes.length - 1 - rng.below(Math.min(bytes.length, 64)));
  return bytes.slice(0, cut);
}

function splice(bytes: Uint8Array, start: number, end: number, insert: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length - (end - start) + insert.length);
  out.set(bytes.subarray(0, start));
  out.set(insert, start);
  out.set(bytes.subarray(end), start + insert.length);
  return out;
}

/** Replaces a size field's value with a larger, an off-by-one or a boundary value. */
function inflateField(rng: Rng, bytes: Uint8Array, field: SizeField): Uint8Array {
  const original = "varint" in field
    ? readVarint(bytes, field.offset)?.value ?? 0n
    : readUint(bytes, field);
  const choice = rng.below(4);
  const value = choice === 0
    ? original << BigInt(1 + rng.below(40))
    : choice === 1
    ? original + BigInt(rng.below(3)) - 1n
    : choice === 2
    ? original * BigInt(2 + rng.below(1000)) + BigInt(rng.below(1 << 16))
    : rng.pick(BOUNDARY_INTS);
  if (!("varint" in field)) {
    writeUint(bytes, field, value);
    return bytes;
  }
  const old = readVarint(bytes, field.offset);
  const end = old ? old.next : field.offset + 1;
  return splice(bytes, field.offset, Math.min(end, bytes.length), encodeVarint(value));
}

function readUint(bytes: Uint8Array, field: FixedField): bigint {
  let value = 0n;
  for (let i = 0; i < field.width; i++) {
    const at = field.littleEndian ? field.offset + field.width - 1 - i : field.offset + i;
    value = (value << 8n) | BigInt(bytes[at] ?? 0);
  }
  return value;
}

function writeUint(bytes: Uint8Array, field: FixedField, value: bigint): void {
  let rest = BigInt.asUintN(8 * field.width, value < 0n ? 0n : value);
  for (let i = 0; i < field.width; i++) {
    const at = field.littleEndian ? field.offset + i : field.offset + field.width - 1 - i;
    if (at < bytes.length) bytes[at] = Number(rest & 0xffn);
    rest >>= 8n;
  }
}

/**
 * Decodes a protobuf base-128 varint at `offset`; `undefined` when it runs past `end` or is
 * longer than 10 bytes.
 *
 * @example
 * ```ts
 * import { readVarint } from "./mutate.ts";
 * readVarint(new Uint8Array([0xac, 0x02]), 0); // { value: 300n, next: 2 }
 * ```
 */
export function readVarint(
  bytes: Uint8Array,
  offset: number,
  end: number = bytes.length,
): { value: bigint; next: number } | undefined {
  let value = 0n;
  for (let i = 0; i < 10 && offset + i < end; i++) {
    const byte = bytes[offset + i];
    value |= BigInt(byte & 0x7f) << BigInt(7 * i);
    if (byte < 0x80) return { value, next: offset + i + 1 };
  }
  return undefined;
}

function encodeVarint(value: bigint): Uint8Array {
  let rest = BigInt.asUintN(64, value < 0n ? 0n : value);
  const out: number[] = [];
  do {
    const low = Number(rest & 0x7fn);
    rest >>= 7n;
    out.push(rest > 0n ? low | 0x80 : low);
  } while (rest > 0n);
  return Uint8Array.from(out);
}

/**
 * Rewrites one node of a JSON document: a value replaced by another type, a boundary number,
 * a huge string or array, or 100,000 levels of nesting; a key deleted or an item duplicated.
 * Returns `undefined` for text that is not JSON.
 *
 * @example
 * ```ts
 * import { mutateJson, Rng } from "./mutate.ts";
 * mutateJson(new Rng(5), '{"shape": [2, 3]}'); // e.g. '{"shape":[2,-1]}'
 * ```
 */
export function mutateJson(rng: Rng, text: string): string | undefined {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    return undefined;
  }
  // Iteratively, and not below 64 levels: an earlier mutation may have nested 100,000 deep.
  const holders: [Record<string, unknown> | unknown[], string | number][] = [];
  const pending: [unknown, number][] = [[document, 0]];
  while (pending.length > 0 && holders.length < 5000) {
    const [value, depth] = pending.pop()!;
    if (typeof value !== "object" || value === null || depth > 64) continue;
    for (const key of Object.keys(value)) {
      const slot = Array.isArray(value) ? Number(key) : key;
      holders.push([value as Record<string, unknown>, slot]);
      pending.push([(value as Record<string, unknown>)[key], depth + 1]);
    }
  }
  if (holders.length === 0) return JSON.stringify(rng.pick(jsonReplacements(rng)));
  const [holder, slot] = rng.pick(holders);
  const action = rng.below(10);
  const deepMarker = "\u0000deep\u0000";
  if (action === 0 && Array.isArray(holder)) {
    holder.splice(slot as number, 0, holder[slot as number]);
  } else if (action === 0) {
    delete (holder as Record<string, unknown>)[slot as string];
  } else if (action === 1) {
    (holder as Record<string, unknown>)[slot as string] = deepMarker;
  } else {
    (holder as Record<string, unknown>)[slot as string] = rng.pick(jsonReplacements(rng));
  }
  const depth = 100_000;
  let rewritten: string;
  try {
    rewritten = JSON.stringify(document);
  } catch {
    return undefined; // nested too deep for JSON.stringify's recursion
  }
  return rewritten.replace(JSON.stringify(deepMarker), "[".repeat(depth) + "]".repeat(depth));
}

function jsonReplacements(rng: Rng): unknown[] {
  return [
    null,
    true,
    0,
    -1,
    1.5,
    2 ** 53 + 2,
    1e308,
    2 ** 32,
    "",
    "x".repeat(rng.below(100_000)),
    [],
    {},
    [rng.below(1 << 20), rng.below(1 << 20)],
    JSON.parse('{"__proto__": {"polluted": 1}, "constructor": 1}'),
    Array.from({ length: rng.below(1000) }, () => rng.below(10)),
  ];
}
