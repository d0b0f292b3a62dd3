/**
 * The readers the fuzzer attacks: for each, its seed files (existing fixtures plus
 * `testdata/fuzz/corpus/`), what the mutator knows about the format (size fields, structure-aware rewrites)
 * and how one input is read. {@link FuzzTarget.load} runs after the runner has installed its
 * allocation guard: it imports the readers whose modules start something as they are evaluated,
 * and starts the libraries of the ONNX and Keras readers (`formats/libraries.ts`), whose modules
 * start nothing on import.
 *
 * @example
 * ```ts
 * import { TARGETS } from "./targets.ts";
 * console.log(TARGETS.map((target) => target.name).join(", "));
 * ```
 *
 * @module
 */

import { unzipSync, zipSync } from "fflate";
import { readZip } from "../../formats/zip.ts";
import { readOnnx } from "../../formats/onnx.ts";
import { readKeras } from "../../formats/keras/read.ts";
import { loadH5wasm, loadOnnxProto } from "../../formats/libraries.ts";
import { type FormatHints, mutateJson, readVarint, type Rng, type SizeField } from "./mutate.ts";

/** One seed: a valid file of the target's format, and the files it needs beside it. */
export interface FuzzSeed {
  /** Where the seed came from, for reports. */
  label: string;
  /** The file's bytes. */
  bytes: Uint8Array;
  /** Companion files by name (a tfjs model's weight shards), also mutated now and then. */
  companions?: Map<string, Uint8Array>;
}

/** Reads one input; it throws, or returns a promise that rejects with, what the reader throws. */
export type ReadInput = (bytes: Uint8Array, companions?: Map<string, Uint8Array>) => unknown;

/** One reader under attack. */
export interface FuzzTarget {
  /** Short name used on the command line (`--reader`). */
  name: string;
  /** The reader call, for the summary. */
  reader: string;
  /** The file name the reader is given; its errors must start with it. */
  file: string;
  /** Loads the seed files. */
  seeds(): Promise<FuzzSeed[]>;
  /** Size fields and structure-aware rewrites of one seed's format. */
  hints(seed: Uint8Array): FormatHints;
  /**
   * Prepares the reader (imports it, starts its libraries); call only after the allocation guard
   * is installed.
   */
  load(): Promise<ReadInput>;
  /**
   * The largest single allocation (bytes) an input of `inputBytes` may cause. Default:
   * 64 × the input, at least 32 MiB.
   */
  allocationLimit?(inputBytes: number): number;
}

const ROOT = new URL("../../testdata/", import.meta.url);

async function files(...paths: string[]): Promise<FuzzSeed[]> {
  return await Promise.all(
    paths.map(async (path) => ({ label: path, bytes: await Deno.readFile(new URL(path, ROOT)) })),
  );
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A JSON document rewritten by {@link mutateJson}. */
function jsonRewrite(rng: Rng, bytes: Uint8Array): Uint8Array | undefined {
  const text = mutateJson(rng, decoder.decode(bytes));
  return text === undefined ? undefined : encoder.encode(text);
}

// ------------------------------------------------------------------------- format field finders

/** TIFF: IFD0's entry count, and the values of its size and strip entries. */
function tiffFields(bytes: Uint8Array): SizeField[] {
  if (bytes.length < 8) return [];
  const littleEndian = bytes[0] === 0x49;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const ifd = view.getUint32(4, littleEndian);
  if (ifd + 2 > bytes.length) return [];
  const fields: SizeField[] = [{ offset: ifd, width: 2, littleEndian }];
  const count = view.getUint16(ifd, littleEndian);
  // ImageWidth, ImageLength, BitsPerSample, StripOffsets, SamplesPerPixel, RowsPerStrip,
  // StripByteCounts
  const sized = new Set([256, 257, 258, 273, 277, 278, 279]);
  for (let i = 0, at = ifd + 2; i < count && at + 12 <= bytes.length; i++, at += 12) {
    if (!sized.has(view.getUint16(at, littleEndian))) continue;
    const short = view.getUint16(at + 2, littleEndian) === 3;
    fields.push({ offset: at + 8, width: short ? 2 : 4, littleEndian });
  }
  return fields;
}

/** AVIF (ISO BMFF): every box size, walking into containers, and the `ispe` width and height. */
function avifFields(bytes: Uint8Array): SizeField[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fields: SizeField[] = [];
  const containers = new Set(["meta", "iprp", "ipco", "dinf", "iinf"]);
  const walk = (start: number, end: number): void => {
    for (let at = start; at + 8 <= end;) {
      const size = view.getUint32(at);
      const type = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
      fields.push({ offset: at, width: 4, littleEndian: false });
      if (type === "ispe" && at + 20 <= end) {
        fields.push({ offset: at + 12, width: 4, littleEndian: false });
        fields.push({ offset: at + 16, width: 4, littleEndian: false });
      }
      // meta and iinf are full boxes (4 bytes of version and flags; iinf a 2-byte count too)
      const header = type === "meta" ? 12 : type === "iinf" ? 14 : 8;
      if (containers.has(type)) walk(at + header, Math.min(at + size, end));
      if (size < 8) break;
      at += size;
    }
  };
  walk(0, bytes.length);
  return fields;
}

/** The length varint of every length-delimited protobuf field, nested messages included. */
function protobufLengthFields(bytes: Uint8Array): SizeField[] {
  const fields: SizeField[] = [];
  const walk = (start: number, end: number, depth: number): boolean => {
    const found: SizeField[] = [];
    const nested: [number, number][] = [];
    let pos = start;
    while (pos < end) {
      const key = readVarint(bytes, pos, end);
      if (!key || key.value === 0n) return false;
      pos = key.next;
      switch (Number(key.value & 7n)) {
        case 0: {
          const value = readVarint(bytes, pos, end);
          if (!value) return false;
          pos = value.next;
          break;
        }
        case 1:
          pos += 8;
          break;
        case 5:
          pos += 4;
          break;
        case 2: {
          const length = readVarint(bytes, pos, end);
          if (!length || length.next + Number(length.value) > end) return false;
          found.push({ offset: pos, varint: true });
          nested.push([length.next, length.next + Number(length.value)]);
          pos = length.next + Number(length.value);
          break;
        }
        default:
          return false;
      }
    }
    if (pos !== end) return false;
    fields.push(...found);
    if (depth < 8) { for (const [from, to] of nested) walk(from, to, depth + 1); }
    return true;
  };
  walk(0, bytes.length, 0);
  return fields;
}

/** Sizes, name lengths and offsets in zip local headers, central records and end records. */
function zipFields(bytes: Uint8Array): SizeField[] {
  const fields: SizeField[] = [];
  const u16 = (offset: number): SizeField => ({ offset, width: 2, littleEndian: true });
  const u32 = (offset: number): SizeField => ({ offset, width: 4, littleEndian: true });
  for (let at = 0; at + 4 <= bytes.length; at++) {
    if (bytes[at] !== 0x50 || bytes[at + 1] !== 0x4b) continue;
    const kind = bytes[at + 2] * 256 + bytes[at + 3];
    if (kind === 0x0304) fields.push(u32(at + 18), u32(at + 22), u16(at + 26), u16(at + 28));
    if (kind === 0x0102) {
      fields.push(u32(at + 20), u32(at + 24), u16(at + 28), u16(at + 30), u16(at + 32));
      fields.push(u32(at + 42));
    }
    if (kind === 0x0506) fields.push(u16(at + 8), u16(at + 10), u32(at + 12), u32(at + 16));
  }
  return fields;
}

/** Every small little-endian 64-bit value: HDF5's lengths, dimensions and addresses. */
function smallUint64Fields(bytes: Uint8Array): SizeField[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fields: SizeField[] = [];
  for (let at = 0; at + 8 <= bytes.length; at++) {
    const value = view.getBigUint64(at, true);
    if (value > 1n && value < 1n << 20n) fields.push({ offset: at, width: 8, littleEndian: true });
  }
  return fields;
}

/** PNG chunk lengths and the IHDR width and height. */
function pngFields(bytes: Uint8Array): SizeField[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u32 = (offset: number): SizeField => ({ offset, width: 4, littleEndian: false });
  const fields: SizeField[] = [u32(16), u32(20)];
  for (let at = 8; at + 8 <= bytes.length; at += 12 + view.getUint32(at)) fields.push(u32(at));
  return fields;
}

/** JPEG segment lengths and the frame header's height, width and component count. */
function jpegFields(bytes: Uint8Array): SizeField[] {
  const fields: SizeField[] = [];
  const u16 = (offset: number): SizeField => ({ offset, width: 2, littleEndian: false });
  for (let at = 0; at + 4 <= bytes.length; at++) {
    if (bytes[at] !== 0xff) continue;
    const marker = bytes[at + 1];
    if (
      marker >= 0xc0 && marker <= 0xfe && marker !== 0xd8 && !(marker >= 0xd0 && marker <= 0xd9)
    ) {
      fields.push(u16(at + 2));
      if (
        marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc
      ) {
        fields.push(u16(at + 5), u16(at + 7), { offset: at + 9, width: 1, littleEndian: false });
      }
    }
  }
  return fields;
}

/** GIF screen and image-descriptor sizes. */
function gifFields(bytes: Uint8Array): SizeField[] {
  const u16 = (offset: number): SizeField => ({ offset, width: 2, littleEndian: true });
  const fields: SizeField[] = [u16(6), u16(8)];
  let at = 13 + (bytes[10] & 0x80 ? 3 * 2 ** ((bytes[10] & 7) + 1) : 0);
  while (at < bytes.length) {
    if (bytes[at] === 0x21) { // extension: label, then sub-blocks
      at += 2;
    } else if (bytes[at] === 0x2c) { // image descriptor, local palette, LZW code size
      fields.push(u16(at + 1), u16(at + 3), u16(at + 5), u16(at + 7));
      const flags = bytes[at + 9];
      at += 10 + (flags & 0x80 ? 3 * 2 ** ((flags & 7) + 1) : 0) + 1;
    } else {
      break;
    }
    while (at < bytes.length && bytes[at] !== 0) at += bytes[at] + 1;
    at++;
  }
  return fields;
}

/** RIFF and chunk sizes, and the canvas size fields of VP8, VP8L and VP8X headers. */
function webpFields(bytes: Uint8Array): SizeField[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u32 = (offset: number): SizeField => ({ offset, width: 4, littleEndian: true });
  const fields: SizeField[] = [u32(4)];
  for (
    let at = 12;
    at + 8 <= bytes.length;
    at += 8 + view.getUint32(at + 4, true) + (view.getUint32(at + 4, true) & 1)
  ) {
    fields.push(u32(at + 4));
    const chunk = decoder.decode(bytes.subarray(at, at + 4));
    if (chunk === "VP8 ") {
      fields.push({ offset: at + 14, width: 2, littleEndian: true });
      fields.push({ offset: at + 16, width: 2, littleEndian: true });
    }
    if (chunk === "VP8L") fields.push(u32(at + 9));
    if (chunk === "VP8X") {
      fields.push({ offset: at + 12, width: 3, littleEndian: true });
      fields.push({ offset: at + 15, width: 3, littleEndian: true });
    }
  }
  return fields;
}

// --------------------------------------------------------------------- structure-aware rewrites

/**
 * Unzips, mutates one member (JSON members as JSON, others byte-wise through `mutateMember`)
 * and zips again, stored or deflated, so that mutations reach the formats inside the archive.
 */
function zipMemberRewrite(
  mutateMember: (rng: Rng, bytes: Uint8Array) => Uint8Array,
): (rng: Rng, bytes: Uint8Array) => Uint8Array | undefined {
  return (rng, bytes) => {
    let members: Record<string, Uint8Array>;
    try {
      // The input may already be mutated: fflate's unzip can take seconds on some corrupt
      // archives, which the harness would take for a hanging reader, so the project's own
      // bounded reader unpacks it.
      members = Object.fromEntries(readZip(bytes, "input", { maxTotalBytes: 4 << 20 }));
    } catch {
      return undefined;
    }
    const names = Object.keys(members);
    if (names.length === 0) return undefined;
    const name = rng.pick(names);
    members[name] = name.endsWith(".json")
      ? jsonRewrite(rng, members[name]) ?? mutateMember(rng, members[name])
      : mutateMember(rng, members[name]);
    return zipSync(members, { level: rng.chance(0.5) ? 0 : 6 });
  };
}

/** A byte-level mutation of a zip member, without knowledge of its format. */
function memberBytes(rng: Rng, bytes: Uint8Array): Uint8Array {
  const out = bytes.slice();
  if (out.length === 0) return out;
  if (rng.chance(0.2)) return out.slice(0, rng.below(out.length));
  for (let n = 1 + rng.below(4); n > 0; n--) out[rng.below(out.length)] ^= 1 << rng.below(8);
  return out;
}

/** Rewrites the JSON header of a safetensors file and its length prefix. */
function safetensorsRewrite(rng: Rng, bytes: Uint8Array): Uint8Array | undefined {
  if (bytes.length < 8) return undefined;
  const length = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  if (8 + length > bytes.length) return undefined;
  const header = jsonRewrite(rng, bytes.subarray(8, 8 + length));
  if (!header) return undefined;
  const out = new Uint8Array(8 + header.length + bytes.length - 8 - length);
  new DataView(out.buffer).setBigUint64(0, BigInt(header.length), true);
  out.set(header, 8);
  out.set(bytes.subarray(8 + length), 8 + header.length);
  return out;
}

/** Repacks a zip with every member stored, so byte mutations reach the members' formats. */
async function storedCopy(seed: Promise<FuzzSeed[]>): Promise<FuzzSeed[]> {
  const seeds = await seed;
  return [
    ...seeds,
    ...seeds.map(({ label, bytes }) => ({
      label: `${label} (re-zipped stored)`,
      bytes: zipSync(unzipSync(bytes), { level: 0 }),
    })),
  ];
}

/**
 * Images may be large from little data; their decoder caps them at MAX_IMAGE_PIXELS instead.
 * libvips allocates in native memory, which the guard does not see; this bounds what the
 * decoder's own buffers (the RGB result, the resampling passes) may take.
 */
const imageAllocationLimit = (): number => 100_000_000 * 4 + (64 << 20);

/**
 * Both decoder paths: the full-size decode, and the decode to an 8×8 model input, which
 * shrinks large JPEGs on load and resamples everything else.
 */
async function imageReader(): Promise<ReadInput> {
  const { decodeForModel, decodeImage } = await import("../../vision/decode.ts");
  return async (bytes) => {
    await decodeImage(bytes, "fuzz.img");
    return await decodeForModel(bytes, "fuzz.img", { size: [8, 8], mode: "raw" });
  };
}

/** Every target, in the order the summary lists them. */
export const TARGETS: readonly FuzzTarget[] = [
  {
    name: "onnx",
    reader: "readOnnx",
    file: "fuzz.onnx",
    seeds: () =>
      files(
        "fixtures/onnx_reader/basic.onnx",
        "fixtures/onnx_reader/tiny_conv.onnx",
        "fixtures/onnx_ops/helper_ops.onnx",
      ),
    hints: (seed) => ({ fields: protobufLengthFields(seed) }),
    load: async () => {
      await loadOnnxProto();
      // External data is looked up in a folder that does not exist, so it is never found.
      const externalDataDir = "/nonexistent/denozoo-fuzz";
      return (bytes) => readOnnx(bytes, "fuzz.onnx", { externalDataDir });
    },
  },
  {
    name: "h5",
    reader: "readKeras (HDF5)",
    file: "fuzz.h5",
    seeds: () =>
      files(
        "fixtures/keras_reader/applications_weights.h5",
        "fixtures/keras_reader/applications_weights_chunked.h5",
        "fixtures/keras_models/keras2_nested.h5",
      ),
    hints: (seed) => ({ fields: smallUint64Fields(seed) }),
    load: async () => {
      await loadH5wasm();
      return (bytes) => readKeras(bytes, "fuzz.h5");
    },
  },
  {
    name: "keras-zip",
    reader: "readKeras (.keras)",
    file: "fuzz.keras",
    seeds: () =>
      storedCopy(
        files(
          "fixtures/keras_reader/swapped_names.keras",
          "fixtures/keras_reader/tiny_functional.keras",
        ),
      ),
    hints: (seed) => ({ fields: zipFields(seed), structured: zipMemberRewrite(memberBytes) }),
    load: async () => {
      await loadH5wasm();
      return (bytes) => readKeras(bytes, "fuzz.keras");
    },
  },
  {
    name: "tfjs",
    reader: "readKeras (tfjs + shards)",
    file: "fuzz/model.json",
    seeds: async () => {
      const [model, ...shards] = await files(
        "fixtures/keras_reader/tfjs/model.json",
        "fixtures/keras_reader/tfjs/group1-shard1of2.bin",
        "fixtures/keras_reader/tfjs/group1-shard2of2.bin",
      );
      const companions = new Map(
        shards.map(({ label, bytes }) => [label.slice(label.lastIndexOf("/") + 1), bytes]),
      );
      return [{ ...model, companions }];
    },
    hints: () => ({ fields: [], structured: jsonRewrite }),
    load: () => Promise.resolve((bytes, shards) => readKeras(bytes, "fuzz/model.json", { shards })),
  },
  {
    name: "pth-zip",
    reader: "readPytorch (zip)",
    file: "fuzz.pth",
    seeds: () => files("fixtures/pth/tiny_zip.pth", "fixtures/pth/big_endian.pth"),
    hints: (seed) => ({ fields: zipFields(seed), structured: zipMemberRewrite(memberBytes) }),
    load: async () => {
      const { readPytorch } = await import("../../formats/pytorch.ts");
      return (bytes) => readPytorch(bytes, "fuzz.pth");
    },
  },
  {
    name: "pth-legacy",
    reader: "readPytorch (legacy)",
    file: "fuzz.pth",
    seeds: () => files("fixtures/pth/tiny_legacy.pth", "fixtures/pth/legacy_views.pth"),
    hints: () => ({ fields: [] }),
    load: async () => {
      const { readPytorch } = await import("../../formats/pytorch.ts");
      return (bytes) => readPytorch(bytes, "fuzz.pth");
    },
  },
  {
    name: "safetensors",
    reader: "readSafetensors",
    file: "fuzz.safetensors",
    seeds: () =>
      files(
        "fixtures/onnx_reader/mixed.safetensors",
        "fixtures/onnx_reader/writer_parity.safetensors",
      ),
    hints: () => ({
      fields: [{ offset: 0, width: 8, littleEndian: true }],
      structured: safetensorsRewrite,
    }),
    load: async () => {
      const { readSafetensors } = await import("../../formats/safetensors.ts");
      return (bytes) => readSafetensors(bytes, "fuzz.safetensors");
    },
  },
  {
    name: "npy",
    reader: "readNpy",
    file: "fuzz.npy",
    seeds: () =>
      files(
        "fixtures/onnx_reader/f4_2x3.npy",
        "fixtures/onnx_reader/f4_scalar.npy",
        "fixtures/onnx_reader/f4_v2.npy",
        "fixtures/onnx_reader/f4_v3.npy",
        "fixtures/onnx_reader/f8.npy",
        "fixtures/onnx_reader/i8.npy",
        "fixtures/onnx_reader/u1.npy",
      ),
    hints: (seed) => ({
      fields: [{ offset: 8, width: seed[6] === 1 ? 2 : 4, littleEndian: true }],
    }),
    load: async () => {
      const { readNpy } = await import("../../formats/npy.ts");
      return (bytes) => readNpy(bytes, "fuzz.npy");
    },
  },
  {
    name: "jpeg",
    reader: "decodeImage (JPEG)",
    file: "fuzz.img",
    seeds: () =>
      files(
        "fixtures/images/exif_orientation6.jpg",
        "fuzz/corpus/progressive.jpg",
        "fuzz/corpus/subsampled.jpg",
        "fuzz/corpus/gray.jpg",
      ),
    hints: (seed) => ({ fields: jpegFields(seed) }),
    load: imageReader,
    allocationLimit: imageAllocationLimit,
  },
  {
    name: "png",
    reader: "decodeImage (PNG)",
    file: "fuzz.img",
    seeds: () =>
      files(
        "fixtures/images/png_rgb8.png",
        "fixtures/images/png_rgba16.png",
        "fixtures/images/png_palette4_trns.png",
        "fixtures/images/png_gray2.png",
        "fixtures/images/png_rgb8_adam7.png",
      ),
    hints: (seed) => ({ fields: pngFields(seed) }),
    load: imageReader,
    allocationLimit: imageAllocationLimit,
  },
  {
    name: "gif",
    reader: "decodeImage (GIF)",
    file: "fuzz.img",
    seeds: () => files("fixtures/images/gif_two_frames.gif", "fuzz/corpus/interlaced.gif"),
    hints: (seed) => ({ fields: gifFields(seed) }),
    load: imageReader,
    allocationLimit: imageAllocationLimit,
  },
  {
    name: "webp",
    reader: "decodeImage (WebP)",
    file: "fuzz.img",
    seeds: () =>
      files(
        "fixtures/images/webp_lossy.webp",
        "fixtures/images/webp_lossless_rgba.webp",
        "fixtures/images/webp_lossy_alpha.webp",
      ),
    hints: (seed) => ({ fields: webpFields(seed) }),
    load: imageReader,
    allocationLimit: imageAllocationLimit,
  },
  {
    name: "avif",
    reader: "decodeImage (AVIF)",
    file: "fuzz.img",
    seeds: () => files("fixtures/images/avif_lossless.avif"),
    hints: (seed) => ({ fields: avifFields(seed) }),
    load: imageReader,
    allocationLimit: imageAllocationLimit,
  },
  {
    name: "tiff",
    reader: "decodeImage (TIFF)",
    file: "fuzz.img",
    seeds: () => files("fixtures/images/tiff_lzw.tif"),
    hints: (seed) => ({ fields: tiffFields(seed) }),
    load: imageReader,
    allocationLimit: imageAllocationLimit,
  },
  {
    name: "registry",
    reader: "validateRegistryJson",
    file: "fuzz-registry.json",
    seeds: async () => {
      const { REGISTRY } = await import("../../hub/registry.ts");
      // One entry of each source, with and without the optional fields.
      const sample = [0, 8, 9, 20, 31].map((index) => REGISTRY[index]);
      return [{ label: "REGISTRY sample", bytes: encoder.encode(JSON.stringify(sample, null, 1)) }];
    },
    hints: () => ({ fields: [], structured: jsonRewrite }),
    load: async () => {
      const { validateRegistryJson } = await import("../../hub/registry_json.ts");
      return (bytes) => validateRegistryJson(decoder.decode(bytes), "fuzz-registry.json");
    },
  },
];
