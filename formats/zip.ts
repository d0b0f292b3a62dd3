/**
 * A defensive zip reader for the archive-based weight formats (PyTorch ≥ 1.6 `.pth`, Keras 3
 * `.keras`).
 *
 * The central directory is parsed and checked here before a single byte is inflated: every
 * entry's name (no `..` segment, no absolute or drive path, no duplicates), its compression
 * method (stored or deflate), its place in the archive and its declared size against the
 * archive's length, so that a few kilobytes cannot claim gigabytes (a zip bomb). Inflation
 * (by `fflate`) then writes into a buffer of exactly the declared size, and an entry whose data
 * inflates to any other length is refused. ZIP64 archives and data descriptors are supported;
 * encrypted entries, multi-disk archives and other compression methods are not.
 *
 * CRC-32 checksums are not verified: a bad record is caught by the format reader that parses it.
 *
 * @example
 * ```ts
 * import { readZip } from "./zip.ts";
 * const file = "testdata/fixtures/keras_reader/tiny_functional.keras";
 * const entries = readZip(await Deno.readFile(file), file, {
 *   only: (name) => name === "config.json",
 * });
 * console.log(JSON.parse(new TextDecoder().decode(entries.get("config.json"))).class_name); // Functional
 * ```
 *
 * @module
 */

import { inflateSync } from "fflate";
import { ZooFormatError } from "../arch/errors.ts";

/** Options of {@link readZip}. */
export interface ReadZipOptions {
  /**
   * Which entries to inflate, by name; it is called once for every file entry, so it also
   * serves to list them. Default: all.
   */
  only?: (name: string) => boolean;
  /**
   * The most bytes the selected entries may inflate to, together. Default: 64 × the archive's
   * size. Never more than 4 GiB, whatever is passed.
   */
  maxTotalBytes?: number;
}

/** The most any archive may inflate to, whatever the options say. */
const MAX_TOTAL_BYTES = 4 * 1024 ** 3;
/** The default inflation budget, as a multiple of the archive's size. */
const DEFAULT_EXPANSION = 64;
/**
 * Deflate codes at most 258 bytes per (at least 2-bit) length/distance pair, so no stream
 * inflates to more than about 1032 times its size; the constant covers block headers too.
 */
const MAX_DEFLATE_RATIO = 1032;
const DEFLATE_SLACK_BYTES = 1024;

const LOCAL_HEADER = 0x04034b50;
const CENTRAL_HEADER = 0x02014b50;
const END_OF_CENTRAL_DIRECTORY = 0x06054b50;
const ZIP64_END_LOCATOR = 0x07064b50;
const ZIP64_END_OF_CENTRAL_DIRECTORY = 0x06064b50;
const ZIP64_EXTRA_FIELD = 0x0001;
const LOCAL_HEADER_BYTES = 30;
const CENTRAL_HEADER_BYTES = 46;
const END_RECORD_BYTES = 22;
const ZIP64_LOCATOR_BYTES = 20;
const ZIP64_END_RECORD_BYTES = 56;
/** The end record's comment is at most this long, which bounds the search for the record. */
const MAX_COMMENT_BYTES = 0xffff;

const STORED = 0;
const DEFLATE = 8;
const FLAG_ENCRYPTED = 0x0001;
const FLAG_UTF8 = 0x0800;

/** One central-directory record, validated. */
interface CentralEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

/** Where the central directory lies and how many records it declares. */
interface DirectoryLocation {
  offset: number;
  size: number;
  count: number;
}

/**
 * Reads the entries of a zip archive into a map from entry name to contents, after checking the
 * whole central directory: a path that climbs out of the extraction folder (`../x`, `a\..\x`),
 * an absolute or drive path (`/x`, `C:\x`), a name that appears twice, an encrypted entry, a
 * compression method other than stored or deflate, an entry that does not lie inside the
 * archive, a stored entry whose sizes differ, or declared sizes over `maxTotalBytes` (or beyond
 * what deflate can produce from the entry's compressed bytes) are all refused before anything
 * is inflated. An entry whose data then inflates to a length other than the declared one is
 * refused too. Directory entries (names ending in `/`) are skipped.
 *
 * Stored entries are returned as views into `bytes`, not copies.
 *
 * @param bytes The whole archive.
 * @param file The archive's name, used in error messages.
 * @param options Which entries to inflate, and the inflation budget.
 * @returns The selected entries' contents by name, in central-directory order.
 * @throws {ZooFormatError} For every problem above, naming the file and the entry.
 *
 * @example
 * ```ts
 * import { readZip } from "./zip.ts";
 * const file = "testdata/fixtures/nets/tv_basic.pth";
 * const names: string[] = [];
 * const pickles = readZip(await Deno.readFile(file), file, {
 *   only: (name) => (names.push(name), name.endsWith("/data.pkl")),
 * });
 * console.log([...pickles.keys()]); // [ "tv_basic/data.pkl" ]
 * ```
 */
export function readZip(
  bytes: Uint8Array,
  file: string,
  options: ReadZipOptions = {},
): Map<string, Uint8Array> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const directory = locateCentralDirectory(view, file);
  const entries = readCentralDirectory(view, directory, file);
  const selected = entries.filter((entry) =>
    !entry.name.endsWith("/") && (options.only?.(entry.name) ?? true)
  );

  const budget = Math.min(
    options.maxTotalBytes ?? DEFAULT_EXPANSION * bytes.length,
    MAX_TOTAL_BYTES,
  );
  let total = 0;
  for (const entry of selected) total += entry.size;
  if (total > budget) {
    throw new ZooFormatError(
      file,
      `zip entries would inflate to ${total} bytes, more than the limit of ${budget} ` +
        `(${
          options.maxTotalBytes === undefined
            ? `${DEFAULT_EXPANSION} × the archive size`
            : "maxTotalBytes"
        }` +
        `): a zip bomb?`,
    );
  }
  const data = selected.map((entry) => [entry, entryData(view, entry, directory, file)] as const);

  const contents = new Map<string, Uint8Array>();
  for (const [entry, compressed] of data) {
    contents.set(entry.name, inflateEntry(entry, compressed, file));
  }
  return contents;
}

function fail(file: string, message: string): never {
  throw new ZooFormatError(file, message);
}

/** Finds the end record (and its ZIP64 twin) by searching back over at most a full comment. */
function locateCentralDirectory(view: DataView, file: string): DirectoryLocation {
  const lowest = Math.max(0, view.byteLength - END_RECORD_BYTES - MAX_COMMENT_BYTES);
  let end = -1;
  for (let at = view.byteLength - END_RECORD_BYTES; at >= lowest; at--) {
    if (view.getUint32(at, true) === END_OF_CENTRAL_DIRECTORY) {
      end = at;
      break;
    }
  }
  if (end < 0) fail(file, "zip archive has no end-of-central-directory record (truncated?)");
  const disk = view.getUint16(end + 4, true);
  const directoryDisk = view.getUint16(end + 6, true);
  let count = view.getUint16(end + 10, true);
  let size = view.getUint32(end + 12, true);
  let offset = view.getUint32(end + 16, true);
  let directoryEnd = end;

  const locator = end - ZIP64_LOCATOR_BYTES;
  if (locator >= 0 && view.getUint32(locator, true) === ZIP64_END_LOCATOR) {
    const recordAt = safeUint64(view, locator + 8, file, "ZIP64 end record offset");
    if (
      recordAt + ZIP64_END_RECORD_BYTES > locator ||
      view.getUint32(recordAt, true) !== ZIP64_END_OF_CENTRAL_DIRECTORY
    ) {
      fail(file, `zip archive's ZIP64 end record is not at offset ${recordAt}`);
    }
    count = safeUint64(view, recordAt + 32, file, "ZIP64 entry count");
    size = safeUint64(view, recordAt + 40, file, "ZIP64 central directory size");
    offset = safeUint64(view, recordAt + 48, file, "ZIP64 central directory offset");
    directoryEnd = recordAt;
  } else if (disk !== 0 || directoryDisk !== 0) {
    fail(file, "multi-disk zip archives are not supported");
  }
  if (offset + size > directoryEnd) {
    fail(
      file,
      `zip central directory [${offset}, ${
        offset + size
      }) runs past its end record at ${directoryEnd}`,
    );
  }
  // Each record takes at least its fixed header, which bounds the count before any allocation.
  if (count * CENTRAL_HEADER_BYTES > size) {
    fail(
      file,
      `zip central directory of ${size} bytes cannot hold the ${count} entries it declares`,
    );
  }
  return { offset, size, count };
}

function safeUint64(view: DataView, at: number, file: string, what: string): number {
  const value = view.getBigUint64(at, true);
  if (value > BigInt(view.byteLength)) {
    fail(file, `zip archive's ${what} ${value} exceeds the archive's ${view.byteLength} bytes`);
  }
  return Number(value);
}

function readCentralDirectory(
  view: DataView,
  directory: DirectoryLocation,
  file: string,
): CentralEntry[] {
  const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  const directoryEnd = directory.offset + directory.size;
  const entries: CentralEntry[] = [];
  const names = new Set<string>();
  let at = directory.offset;
  for (let index = 0; index < directory.count; index++) {
    if (at + CENTRAL_HEADER_BYTES > directoryEnd || view.getUint32(at, true) !== CENTRAL_HEADER) {
      fail(file, `zip central directory record ${index} at offset ${at} is malformed`);
    }
    const flags = view.getUint16(at + 8, true);
    const method = view.getUint16(at + 10, true);
    const nameLength = view.getUint16(at + 28, true);
    const extraLength = view.getUint16(at + 30, true);
    const commentLength = view.getUint16(at + 32, true);
    const nameStart = at + CENTRAL_HEADER_BYTES;
    const extraStart = nameStart + nameLength;
    const next = extraStart + extraLength + commentLength;
    if (next > directoryEnd) {
      fail(file, `zip central directory record ${index} at offset ${at} runs past the directory`);
    }
    const name = decodeName(bytes.subarray(nameStart, extraStart), flags, file);
    checkName(name, file);
    if (names.has(name)) fail(file, `zip entry '${name}' appears twice`);
    names.add(name);
    if (flags & FLAG_ENCRYPTED) fail(file, `zip entry '${name}' is encrypted`);
    if (method !== STORED && method !== DEFLATE) {
      fail(
        file,
        `zip entry '${name}' uses compression method ${method}; only stored (0) and deflate (8) are supported`,
      );
    }
    const sizes = zip64Sizes(
      view,
      extraStart,
      extraLength,
      {
        size: view.getUint32(at + 24, true),
        compressedSize: view.getUint32(at + 20, true),
        localHeaderOffset: view.getUint32(at + 42, true),
      },
      name,
      file,
    );
    checkDeclaredSizes(name, method, sizes, directory.offset, file);
    entries.push({ name, method, ...sizes });
    at = next;
  }
  return entries;
}

function decodeName(raw: Uint8Array, flags: number, file: string): string {
  if (raw.length === 0) fail(file, "zip archive has an entry without a name");
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(raw);
  } catch {
    // Names without the UTF-8 flag are in code page 437, which agrees with ASCII only.
    return flags & FLAG_UTF8
      ? fail(file, "zip entry name is flagged UTF-8 but is not")
      : Array.from(raw, (byte) => String.fromCharCode(byte)).join("");
  }
}

/** Refuses names that would land outside the folder an archive is extracted to. */
function checkName(name: string, file: string): void {
  if (/^([/\\]|[A-Za-z]:)/.test(name)) fail(file, `zip entry '${name}' has an absolute path`);
  if (name.split(/[/\\]/).includes("..")) {
    fail(file, `zip entry '${name}' climbs out of the archive with '..'`);
  }
  if (name.includes("\0")) fail(file, `zip entry '${name}' has a NUL character in its name`);
}

interface EntrySizes {
  size: number;
  compressedSize: number;
  localHeaderOffset: number;
}

/** Fields saturated at 0xffffffff are in the ZIP64 extra field, in this order, when present. */
function zip64Sizes(
  view: DataView,
  extraStart: number,
  extraLength: number,
  sizes: EntrySizes,
  name: string,
  file: string,
): EntrySizes {
  const saturated = (["size", "compressedSize", "localHeaderOffset"] as const).filter((field) =>
    sizes[field] === 0xffffffff
  );
  if (saturated.length === 0) return sizes;
  const extraEnd = extraStart + extraLength;
  for (let at = extraStart; at + 4 <= extraEnd;) {
    const id = view.getUint16(at, true);
    const length = view.getUint16(at + 2, true);
    if (at + 4 + length > extraEnd) break;
    if (id === ZIP64_EXTRA_FIELD) {
      if (length < 8 * saturated.length) {
        fail(file, `zip entry '${name}' has a ZIP64 extra field too short for its sizes`);
      }
      const widened = { ...sizes };
      saturated.forEach((field, i) => {
        widened[field] = safeUint64(view, at + 4 + 8 * i, file, `entry '${name}' ${field}`);
      });
      return widened;
    }
    at += 4 + length;
  }
  return fail(file, `zip entry '${name}' has 32-bit sizes saturated but no ZIP64 extra field`);
}

/** Checks what the central directory claims before anything is read or allocated. */
function checkDeclaredSizes(
  name: string,
  method: number,
  { size, compressedSize, localHeaderOffset }: EntrySizes,
  directoryOffset: number,
  file: string,
): void {
  if (localHeaderOffset + LOCAL_HEADER_BYTES + compressedSize > directoryOffset) {
    fail(
      file,
      `zip entry '${name}' (${compressedSize} bytes at offset ${localHeaderOffset}) does not ` +
        `fit before the central directory at ${directoryOffset}`,
    );
  }
  if (method === STORED && size !== compressedSize) {
    fail(
      file,
      `zip entry '${name}' is stored but declares ${size} bytes with ${compressedSize} in the archive`,
    );
  }
  if (method === DEFLATE && size > compressedSize * MAX_DEFLATE_RATIO + DEFLATE_SLACK_BYTES) {
    fail(
      file,
      `zip entry '${name}' declares ${size} bytes, more than deflate can produce from ` +
        `${compressedSize} compressed bytes: a zip bomb?`,
    );
  }
}

/** The entry's compressed bytes, located through its local header. */
function entryData(
  view: DataView,
  entry: CentralEntry,
  directory: DirectoryLocation,
  file: string,
): Uint8Array {
  const at = entry.localHeaderOffset;
  if (view.getUint32(at, true) !== LOCAL_HEADER) {
    fail(file, `zip entry '${entry.name}' has no local header at offset ${at}`);
  }
  const nameLength = view.getUint16(at + 26, true);
  const extraLength = view.getUint16(at + 28, true);
  const start = at + LOCAL_HEADER_BYTES + nameLength + extraLength;
  const end = start + entry.compressedSize;
  if (end > directory.offset) {
    fail(
      file,
      `zip entry '${entry.name}' data [${start}, ${end}) runs into the central directory at ` +
        `${directory.offset}`,
    );
  }
  const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  const localName = bytes.subarray(at + LOCAL_HEADER_BYTES, at + LOCAL_HEADER_BYTES + nameLength);
  // Readers that trust the local header would see another file than this one does.
  if (decodeName(localName, view.getUint16(at + 6, true), file) !== entry.name) {
    fail(file, `zip entry '${entry.name}' has another name in its local header`);
  }
  return bytes.subarray(start, end);
}

function inflateEntry(entry: CentralEntry, compressed: Uint8Array, file: string): Uint8Array {
  if (entry.method === STORED) return compressed;
  // One spare byte tells a stream that inflates to more than declared from an exact one:
  // fflate drops what does not fit a caller's buffer.
  let out: Uint8Array;
  try {
    out = new Uint8Array(entry.size + 1);
  } catch {
    return fail(file, `zip entry '${entry.name}': cannot allocate ${entry.size} bytes`);
  }
  let inflated: Uint8Array;
  try {
    if (compressed.length === 0) throw new Error("empty deflate stream");
    inflated = inflateSync(compressed, { out });
  } catch (error) {
    return fail(
      file,
      `zip entry '${entry.name}' has corrupt deflate data: ${
        error instanceof Error ? error.message : error
      }`,
    );
  }
  if (inflated.length !== entry.size) {
    fail(
      file,
      `zip entry '${entry.name}' declares ${entry.size} bytes but inflates to ` +
        `${inflated.length > entry.size ? "more" : inflated.length}`,
    );
  }
  return inflated;
}
