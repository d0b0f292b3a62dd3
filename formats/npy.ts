/**
 * Reader and writer for NumPy's `.npy` format: the magic `\x93NUMPY`, a version, a header
 * length, a Python-literal header dict (`descr`, `fortran_order`, `shape`), then the raw data.
 *
 * @example
 * ```ts
 * import { readNpy, writeNpy } from "./npy.ts";
 * const bytes = writeNpy([2, 2], new Float32Array([1, 2, 3, 4]));
 * const tensor = readNpy(bytes, "weights.npy");
 * console.log(tensor.shape, tensor.data); // [2, 2] Float32Array [1, 2, 3, 4]
 * ```
 *
 * @module
 */

import type { NamedTensor, TensorDType } from "./tensor.ts";
import { ZooFormatError } from "../arch/errors.ts";
import { decodeLittleEndian, elementCount, RAW_DTYPES, type RawDType } from "./raw.ts";
import { withPath } from "./files.ts";

const NPY_MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"

/** numpy aligns the start of the data to this many bytes. */
const NPY_ALIGNMENT = 64;

/**
 * numpy ≥ 1.24 leaves room for the growth axis (the first one) to reach this many digits, so the
 * header can be rewritten in place when rows are appended; writing the same keeps files identical.
 */
const GROWTH_AXIS_MAX_DIGITS = 21;

/** The supported `descr` codes (little-endian or byte-order-free) and their raw encodings. */
const NPY_DTYPES: Record<string, RawDType> = {
  "<f4": "F32",
  "<f8": "F64",
  "<i8": "I64",
  "<i4": "I32",
  "|u1": "U8",
};

/** Width of the header-length field and the header's text encoding, per major version. */
function headerLengthField(major: number): { width: 2 | 4; encoding: string } | undefined {
  if (major === 1) return { width: 2, encoding: "latin1" };
  if (major === 2) return { width: 4, encoding: "latin1" };
  if (major === 3) return { width: 4, encoding: "utf-8" };
  return undefined;
}

/** Pulls one key's literal out of the header dict, accepting either Python quote style. */
function headerValue(header: string, key: string, literal: string): string | undefined {
  return new RegExp(`['"]${key}['"]\\s*:\\s*${literal}`).exec(header)?.[1];
}

function parseShape(file: string, literal: string): number[] {
  const parts = literal.split(",").map((part) => part.trim());
  // A one-element tuple is written "(5,)", so a trailing empty part is expected.
  if (parts.at(-1) === "") parts.pop();
  return parts.map((part) => {
    if (!/^\d+$/.test(part)) throw new ZooFormatError(file, `shape entry '${part}' is not a count`);
    return Number(part);
  });
}

/** The tensor name for a file: its base name without directory or `.npy`. */
function tensorName(file: string): string {
  const base = file.slice(Math.max(file.lastIndexOf("/"), file.lastIndexOf("\\")) + 1);
  return base.endsWith(".npy") ? base.slice(0, -".npy".length) : base;
}

/** What a `.npy` header says: where the data starts and how to decode it. */
interface NpyLayout {
  shape: number[];
  rawDType: RawDType;
  descr: string;
  dataStart: number;
}

/** Bytes before the header text: magic (6), version (2), header length (2 or 4). */
const NPY_PREFIX_MAX = 12;

/** Where the header text ends, from the first bytes of a file (at least {@link NPY_PREFIX_MAX}). */
function headerEnd(prefix: Uint8Array, fileSize: number, file: string): number {
  if (prefix.length < 10 || NPY_MAGIC.some((byte, i) => prefix[i] !== byte)) {
    throw new ZooFormatError(file, "not a .npy file (missing \\x93NUMPY magic)");
  }
  const field = headerLengthField(prefix[6]);
  if (!field) {
    throw new ZooFormatError(file, `unsupported .npy version ${prefix[6]}.${prefix[7]}`);
  }
  const headerStart = 8 + field.width;
  if (fileSize < headerStart || prefix.length < headerStart) {
    throw new ZooFormatError(file, `file has ${fileSize} bytes, too short for its header length`);
  }
  const view = new DataView(prefix.buffer, prefix.byteOffset, prefix.byteLength);
  const headerLength = field.width === 2 ? view.getUint16(8, true) : view.getUint32(8, true);
  if (headerStart + headerLength > fileSize) {
    throw new ZooFormatError(
      file,
      `header length ${headerLength} exceeds the ${fileSize - headerStart} bytes after it`,
    );
  }
  return headerStart + headerLength;
}

/** Parses the header of a file of `fileSize` bytes whose first bytes (header included) are `head`. */
function parseHeader(head: Uint8Array, fileSize: number, file: string): NpyLayout {
  const dataStart = headerEnd(head, fileSize, file);
  const field = headerLengthField(head[6])!;
  const header = new TextDecoder(field.encoding).decode(
    head.subarray(8 + field.width, dataStart),
  );
  const descr = headerValue(header, "descr", `['"]([^'"]*)['"]`);
  const fortranOrder = headerValue(header, "fortran_order", "(True|False)");
  const shapeLiteral = headerValue(header, "shape", "\\(([^)]*)\\)");
  if (descr === undefined || fortranOrder === undefined || shapeLiteral === undefined) {
    throw new ZooFormatError(
      file,
      `header ${JSON.stringify(header.trim())} lacks descr, fortran_order or shape`,
    );
  }
  const rawDType = Object.hasOwn(NPY_DTYPES, descr) ? NPY_DTYPES[descr] : undefined;
  if (!rawDType) {
    throw new ZooFormatError(
      file,
      `unsupported dtype '${descr}' (supported: ${Object.keys(NPY_DTYPES).join(", ")})`,
    );
  }
  if (fortranOrder === "True") {
    throw new ZooFormatError(file, "fortran_order True is not supported; save a C-ordered array");
  }
  const shape = parseShape(file, shapeLiteral);
  const expectedBytes = elementCount(shape) * RAW_DTYPES[rawDType].bytesPerElement;
  const dataBytes = fileSize - dataStart;
  if (dataBytes !== expectedBytes) {
    throw new ZooFormatError(
      file,
      `data has ${dataBytes} bytes, expected ${expectedBytes} for '${descr}' ${
        JSON.stringify(shape)
      }`,
    );
  }
  return { shape, rawDType, descr, dataStart };
}

/**
 * Parses a `.npy` file (format versions 1.0, 2.0 and 3.0). Supports little-endian `<f4`, `<f8`
 * (narrowed to float32), `<i8`, `<i4` and `|u1` in C order. The tensor is named after the file:
 * its base name without `.npy`.
 *
 * @param bytes The whole file.
 * @param file The file name, used as the tensor name and in error messages.
 * @throws {ZooFormatError} On a bad magic, version or header, an unsupported dtype, Fortran
 * order, or a data size that does not match the shape.
 *
 * @example
 * ```ts
 * const path = "testdata/fixtures/cifar/resnet20_logits.npy";
 * const tensor = readNpy(await Deno.readFile(path), path);
 * console.log(tensor.dtype, tensor.shape); // float32 [ 1000, 10 ]
 * ```
 */
export function readNpy(bytes: Uint8Array, file: string): NamedTensor {
  const { shape, rawDType, dataStart } = parseHeader(bytes, bytes.length, file);
  return {
    name: tensorName(file),
    shape,
    dtype: RAW_DTYPES[rawDType].dtype,
    data: decodeLittleEndian(rawDType, bytes.subarray(dataStart)),
  };
}

/**
 * A `.npy` file opened for reading a few rows (entries of its first axis) at a time, so that an
 * array larger than memory can be fed to a model batch by batch.
 *
 * @example
 * ```ts
 * import { openNpy } from "./npy.ts";
 * using logits = await openNpy("testdata/fixtures/cifar/resnet20_logits.npy");
 * console.log(logits.shape, (await logits.readRows(998, 2)).length); // [ 1000, 10 ] 20
 * ```
 */
export interface NpyRows extends Disposable {
  /** Dimensions, outermost (the rows) first. */
  readonly shape: number[];
  /** The element type rows decode to (as {@link readNpy} decodes them). */
  readonly dtype: TensorDType;
  /** Reads rows `start` up to `start + count` (clamped to the end), decoded. */
  readRows(start: number, count: number): Promise<NamedTensor["data"]>;
}

/**
 * Opens a `.npy` file and reads its header only; rows are read on demand. Checks the header as
 * {@link readNpy} does, against the file's size.
 *
 * @throws {ZooFormatError} As {@link readNpy}, or for a file without rows (a scalar).
 *
 * @example
 * ```ts
 * using rows = await openNpy("testdata/fixtures/nets/tv_basic_input.npy");
 * console.log(rows.shape, rows.dtype); // [ 2, 3, 64, 64 ] float32
 * ```
 */
export async function openNpy(path: string): Promise<NpyRows> {
  // Operating-system errors name the path (reading a folder fails only at the first read).
  const file = await Deno.open(path).catch((error) => {
    throw withPath(error, path);
  });
  const readAt = (offset: number, length: number) =>
    readExactly(file, offset, length).catch((error) => {
      throw withPath(error, path);
    });
  try {
    const size = (await file.stat()).size;
    const prefix = await readAt(0, Math.min(NPY_PREFIX_MAX, size));
    const head = await readAt(0, Math.min(headerEnd(prefix, size, path), size));
    const { shape, rawDType, dataStart } = parseHeader(head, size, path);
    if (shape.length === 0) throw new ZooFormatError(path, "holds a scalar, not rows");
    const rowBytes = elementCount(shape.slice(1)) * RAW_DTYPES[rawDType].bytesPerElement;
    return {
      shape,
      dtype: RAW_DTYPES[rawDType].dtype,
      async readRows(start: number, count: number) {
        const end = Math.min(start + count, shape[0]);
        const bytes = await readAt(dataStart + start * rowBytes, (end - start) * rowBytes);
        return decodeLittleEndian(rawDType, bytes);
      },
      [Symbol.dispose]: () => file.close(),
    };
  } catch (error) {
    file.close();
    throw error;
  }
}

/** Exactly `length` bytes of an open file from `offset`. */
async function readExactly(
  file: Deno.FsFile,
  offset: number,
  length: number,
): Promise<Uint8Array> {
  await file.seek(offset, Deno.SeekMode.Start);
  const bytes = new Uint8Array(length);
  for (let done = 0; done < length;) {
    const read = await file.read(bytes.subarray(done));
    if (read === null) {
      throw new Deno.errors.UnexpectedEof(`file ended ${length - done} bytes early`);
    }
    done += read;
  }
  return bytes;
}

/**
 * The header of a version 1.0 `.npy` file of float32s (`<f4`, C order) of this shape, byte for
 * byte as `numpy.save` (≥ 1.24) writes it: padded with spaces and a final newline so the data
 * starts on a 64-byte boundary. The data follows it: how a writer streams an array's rows.
 *
 * @throws {RangeError} If the shape is not a list of counts.
 *
 * @example
 * ```ts
 * console.log(npyHeader([1000, 10]).length); // 128
 * ```
 */
export function npyHeader(shape: number[]): Uint8Array {
  if (!shape.every((dim) => Number.isSafeInteger(dim) && dim >= 0)) {
    throw new RangeError(`writeNpy: shape ${JSON.stringify(shape)} is not a list of counts`);
  }
  // Python's tuple repr: "()", "(5,)", "(2, 3)".
  const shapeRepr = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shapeRepr}, }`;
  if (shape.length > 0) header += " ".repeat(GROWTH_AXIS_MAX_DIGITS - String(shape[0]).length);
  const prefixBytes = 10; // magic (6), version (2), header length (2)
  const unpadded = header.length + 1; // + the final newline
  const padding = NPY_ALIGNMENT - ((prefixBytes + unpadded) % NPY_ALIGNMENT);
  header += " ".repeat(padding) + "\n";
  const out = new Uint8Array(prefixBytes + header.length);
  out.set(NPY_MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), prefixBytes);
  return out;
}

/**
 * Serializes a float32 array as a version 1.0 `.npy` file (`<f4`, C order), byte for byte as
 * `numpy.save` (≥ 1.24) writes it: the header is padded with spaces and a final newline so the
 * data starts on a 64-byte boundary.
 *
 * @param shape Dimensions, outermost first; their product must equal `data.length`.
 * @param data Row-major elements.
 * @throws {RangeError} If the shape is not a list of counts or does not match the data length.
 *
 * @example
 * ```ts
 * await Deno.writeFile("logits.npy", writeNpy([1, 10], new Float32Array(10)));
 * ```
 */
export function writeNpy(shape: number[], data: Float32Array): Uint8Array {
  const header = npyHeader(shape);
  if (elementCount(shape) !== data.length) {
    throw new RangeError(
      `writeNpy: shape ${JSON.stringify(shape)} holds ${elementCount(shape)} elements, ` +
        `data has ${data.length}`,
    );
  }
  const out = new Uint8Array(header.length + data.byteLength);
  out.set(header, 0);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), header.length);
  return out;
}
