/**
 * Reader and writer for the safetensors format (Hugging Face): an 8-byte little-endian header
 * length, a JSON header naming each tensor's dtype, shape and byte range, then the raw
 * little-endian tensor data back to back.
 *
 * @example
 * ```ts
 * import { readSafetensors, writeSafetensors } from "./safetensors.ts";
 * const bytes = writeSafetensors([
 *   { name: "fc.bias", shape: [2], dtype: "float32", data: new Float32Array([0.5, -1]) },
 * ]);
 * const { tensors } = readSafetensors(bytes, "model.safetensors");
 * console.log(tensors[0].name, tensors[0].data); // fc.bias Float32Array [0.5, -1]
 * ```
 *
 * @module
 */

import type { NamedTensor, TensorDType } from "./tensor.ts";
import { type FileChunk, joinChunks } from "./files.ts";
import { ZooFormatError } from "../arch/errors.ts";
import {
  decodeLittleEndian,
  elementCount,
  isRawDType,
  lazyFloat32Tensor,
  RAW_DTYPES,
  type RawDType,
} from "./raw.ts";

/** The contents of a safetensors file. */
export interface SafetensorsFile {
  /** The tensors, in the order the header lists them. */
  tensors: NamedTensor[];
  /** The header's `__metadata__` map (empty when the file has none). */
  metadata: Record<string, string>;
}

/** A safetensors file's header: the metadata and each tensor's name, element type and shape. */
export interface SafetensorsHeader {
  /** The header's `__metadata__` map (empty when the file has none). */
  metadata: Record<string, string>;
  /** The tensors, in the order the header lists them, without their data. */
  tensors: Pick<NamedTensor, "name" | "shape" | "dtype">[];
}

/** The reference implementation refuses headers above 100 MB; so does this reader. */
const MAX_HEADER_BYTES = 100_000_000;

/** The safetensors dtype written for each {@link TensorDType}. */
const WRITTEN_DTYPES: Record<TensorDType, RawDType> = {
  float32: "F32",
  int64: "I64",
  int32: "I32",
  uint8: "U8",
  bool: "BOOL",
};

/** One header entry, validated, before its bytes are checked against its neighbours. */
interface HeaderEntry {
  name: string;
  dtype: RawDType;
  shape: number[];
  begin: number;
  end: number;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

function parseHeaderEntry(file: string, name: string, info: unknown): HeaderEntry {
  if (!isRecord(info)) throw new ZooFormatError(file, `header entry '${name}' is not an object`);
  const { dtype, shape, data_offsets: offsets } = info;
  if (typeof dtype !== "string") {
    throw new ZooFormatError(file, `tensor '${name}' has no string dtype`);
  }
  if (!isRawDType(dtype)) {
    throw new ZooFormatError(file, `tensor '${name}' has unsupported dtype '${dtype}'`);
  }
  if (!Array.isArray(shape) || !shape.every(isCount)) {
    throw new ZooFormatError(
      file,
      `tensor '${name}' shape ${JSON.stringify(shape)} is not a list of counts`,
    );
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
    throw new ZooFormatError(
      file,
      `tensor '${name}' data_offsets ${JSON.stringify(offsets)} is not [begin, end]`,
    );
  }
  const [begin, end] = offsets as number[];
  const expectedBytes = elementCount(shape) * RAW_DTYPES[dtype].bytesPerElement;
  if (end - begin !== expectedBytes) {
    throw new ZooFormatError(
      file,
      `tensor '${name}' (${dtype} ${JSON.stringify(shape)}) spans ${end - begin} bytes ` +
        `[${begin}, ${end}), expected ${expectedBytes}`,
    );
  }
  return { name, dtype, shape, begin, end };
}

function parseMetadata(file: string, metadata: unknown): Record<string, string> {
  if (!isRecord(metadata)) throw new ZooFormatError(file, "__metadata__ is not an object");
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value !== "string") {
      throw new ZooFormatError(file, `__metadata__ value of '${key}' is not a string`);
    }
  }
  return metadata as Record<string, string>;
}

/** Requires the byte ranges to tile the data section exactly: no overlap, gap or trailing bytes. */
function checkContiguous(file: string, entries: HeaderEntry[], dataBytes: number): void {
  const byBegin = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expectedBegin = 0;
  let previous = "the start of the data";
  for (const entry of byBegin) {
    if (entry.begin < expectedBegin) {
      throw new ZooFormatError(
        file,
        `tensor '${entry.name}' [${entry.begin}, ${entry.end}) overlaps ${previous}`,
      );
    }
    if (entry.begin > expectedBegin) {
      throw new ZooFormatError(
        file,
        `tensor '${entry.name}' begins at ${entry.begin}, leaving a gap after ${previous} ` +
          `(offsets must be contiguous)`,
      );
    }
    expectedBegin = entry.end;
    previous = `tensor '${entry.name}' [${entry.begin}, ${entry.end})`;
  }
  if (expectedBegin !== dataBytes) {
    throw new ZooFormatError(
      file,
      `tensors cover ${expectedBegin} data bytes but the file holds ${dataBytes}`,
    );
  }
}

/**
 * Parses a safetensors file. Every tensor is copied out of `bytes`, converted to the
 * {@link NamedTensor} element types (F16/BF16/F64 to float32, I8/I16/U16 to int32).
 *
 * @param bytes The whole file.
 * @param file The file name, used in error messages.
 * @throws {ZooFormatError} If the header length, JSON, dtypes, shapes or byte ranges are invalid.
 *
 * @example
 * ```ts
 * const path = "models/cifar_resnet20.safetensors";
 * const { tensors, metadata } = readSafetensors(await Deno.readFile(path), path);
 * const conv1 = tensors.find((t) => t.name === "conv1/kernel");
 * console.log(conv1?.shape, metadata.format); // [ 3, 3, 3, 16 ] denozoo/1
 * ```
 */
export function readSafetensors(bytes: Uint8Array, file: string): SafetensorsFile {
  if (bytes.length < 8) {
    throw new ZooFormatError(file, `file has ${bytes.length} bytes, too short for a header length`);
  }
  const dataStart = 8 + headerLength(bytes.subarray(0, 8), bytes.length, file);
  const data = bytes.subarray(dataStart);
  const { metadata, entries } = parseHeader(bytes.subarray(8, dataStart), data.length, file);
  const tensors = entries.map(({ name, dtype, shape, begin, end }): NamedTensor =>
    dtype === "F32" ? lazyFloat32Tensor(name, shape, data.subarray(begin, end)) : {
      name,
      shape,
      dtype: RAW_DTYPES[dtype].dtype,
      data: decodeLittleEndian(dtype, data.subarray(begin, end)),
    }
  );
  return { tensors, metadata };
}

/** The header length a file's first 8 bytes give, checked against the file's size. */
function headerLength(prefix: Uint8Array, fileSize: number, file: string): number {
  const length = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (length > BigInt(fileSize - 8)) {
    throw new ZooFormatError(
      file,
      `header length ${length} exceeds the ${fileSize - 8} bytes after it`,
    );
  }
  if (length > BigInt(MAX_HEADER_BYTES)) {
    throw new ZooFormatError(file, `header length ${length} is over ${MAX_HEADER_BYTES}`);
  }
  return Number(length);
}

/** Parses and checks a header: its metadata, and its entries tiling `dataBytes` exactly. */
function parseHeader(
  headerBytes: Uint8Array,
  dataBytes: number,
  file: string,
): { metadata: Record<string, string>; entries: HeaderEntry[] } {
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(headerBytes));
  } catch (error) {
    throw new ZooFormatError(file, `header is not valid UTF-8 JSON: ${(error as Error).message}`);
  }
  if (!isRecord(header)) throw new ZooFormatError(file, "header is not a JSON object");
  let metadata: Record<string, string> = {};
  const entries: HeaderEntry[] = [];
  for (const [name, info] of Object.entries(header)) {
    if (name === "__metadata__") metadata = parseMetadata(file, info);
    else entries.push(parseHeaderEntry(file, name, info));
  }
  checkContiguous(file, entries, dataBytes);
  return { metadata, entries };
}

/**
 * Reads only a safetensors file's header from disk and checks it, against the file's size too
 * (a truncated or padded file is damaged even when its header reads): the metadata and the
 * tensors' names, dtypes and shapes, without reading their data.
 *
 * @example
 * ```ts
 * const header = await readSafetensorsHeader("models/cifar_resnet20.safetensors");
 * console.log(header.metadata.format, header.tensors.length); // denozoo/1 116
 * ```
 */
export async function readSafetensorsHeader(path: string): Promise<SafetensorsHeader> {
  using file = await Deno.open(path, { read: true });
  const size = (await file.stat()).size;
  const readFully = async (target: Uint8Array) => {
    for (let read = 0; read < target.length;) {
      const n = await file.read(target.subarray(read));
      if (n === null) throw new ZooFormatError(path, `file ends inside its header (${size} bytes)`);
      read += n;
    }
  };
  if (size < 8) {
    throw new ZooFormatError(path, `file has ${size} bytes, too short for a header length`);
  }
  const prefix = new Uint8Array(8);
  await readFully(prefix);
  const header = new Uint8Array(headerLength(prefix, size, path));
  await readFully(header);
  const { metadata, entries } = parseHeader(header, size - 8 - header.length, path);
  return {
    metadata,
    tensors: entries.map(({ name, dtype, shape }) => ({
      name,
      shape,
      dtype: RAW_DTYPES[dtype].dtype,
    })),
  };
}

/**
 * Serializes tensors to safetensors, in the given order, with the header padded by spaces to a
 * multiple of 8 bytes so the data starts aligned (as the reference writer does). float32 is
 * written as F32, int64 as I64, int32 as I32, uint8 as U8 and bool as BOOL.
 *
 * The file comes as chunks: the header, then each tensor's data, in file order. A tensor in
 * memory is a view of its data (no copy); a float32 tensor with `writeInto` (a kernel whose
 * layout change is deferred) is a {@link DeferredChunk} that writes it into the writer's
 * buffer. Writing the chunks one after another (see `writeAtomically`) thus spares a copy of
 * every weight, which for a 100 MB model is a tenth of a second and 100 MB of memory.
 *
 * @param tensors Tensors with unique names whose data length matches their shape.
 * @param metadata Optional string map stored as `__metadata__`.
 * @throws {RangeError} If a name repeats or a tensor's data does not match its shape.
 *
 * @example
 * ```ts
 * const chunks = safetensorsChunks(
 *   [{ name: "fc.weight", shape: [1, 2], dtype: "float32", data: new Float32Array([1, 2]) }],
 * );
 * console.log(chunks.length); // 2: the header and fc.weight
 * ```
 */
export function safetensorsChunks(
  tensors: NamedTensor[],
  metadata?: Record<string, string>,
): FileChunk[] {
  // No prototype, so a tensor named "__proto__" becomes an ordinary key.
  const header: Record<string, unknown> = Object.create(null);
  if (metadata && Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  const names = new Set<string>(["__metadata__"]);
  const chunks: FileChunk[] = [];
  let dataBytes = 0;
  for (const tensor of tensors) {
    if (names.has(tensor.name)) {
      throw new RangeError(
        `writeSafetensors: tensor name '${tensor.name}' is used twice or is the reserved '__metadata__'`,
      );
    }
    names.add(tensor.name);
    const written = WRITTEN_DTYPES[tensor.dtype];
    const { bytesPerElement } = RAW_DTYPES[written];
    const count = elementCount(tensor.shape);
    const { writeInto } = tensor;
    if (writeInto && tensor.dtype === "float32") {
      chunks.push({
        length: count * 4,
        writeInto: (target) => writeInto(new Float32Array(target.buffer, target.byteOffset, count)),
      });
    } else if (
      tensor.data.length !== count || tensor.data.BYTES_PER_ELEMENT !== bytesPerElement
    ) {
      const described = `${tensor.dtype} ${JSON.stringify(tensor.shape)}`;
      throw new RangeError(
        `writeSafetensors: tensor '${tensor.name}' (${described}) has ${tensor.data.length} ` +
          `elements of ${tensor.data.BYTES_PER_ELEMENT} bytes, expected ${count} of ${bytesPerElement}`,
      );
    } else {
      chunks.push(
        new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, count * bytesPerElement),
      );
    }
    const end = dataBytes + count * bytesPerElement;
    header[tensor.name] = {
      dtype: written,
      shape: tensor.shape,
      data_offsets: [dataBytes, end],
    };
    dataBytes = end;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerLength = Math.ceil(json.length / 8) * 8;
  const head = new Uint8Array(8 + headerLength);
  new DataView(head.buffer).setBigUint64(0, BigInt(headerLength), true);
  head.set(json, 8);
  head.fill(0x20, 8 + json.length);
  return [head, ...chunks];
}

/**
 * Serializes tensors to one safetensors byte array: {@link safetensorsChunks}, joined.
 *
 * @param tensors Tensors with unique names whose data length matches their shape.
 * @param metadata Optional string map stored as `__metadata__`.
 * @throws {RangeError} If a name repeats or a tensor's data does not match its shape.
 *
 * @example
 * ```ts
 * const bytes = writeSafetensors(
 *   [{ name: "fc.weight", shape: [1, 2], dtype: "float32", data: new Float32Array([1, 2]) }],
 *   { format: "pt" },
 * );
 * await Deno.writeFile("fc.safetensors", bytes);
 * ```
 */
export function writeSafetensors(
  tensors: NamedTensor[],
  metadata?: Record<string, string>,
): Uint8Array {
  return joinChunks(safetensorsChunks(tensors, metadata));
}
