/**
 * Reader for ONNX models (`.onnx` protobuf files): the graph's nodes, inputs, outputs and
 * initializers, with every tensor decoded to a {@link NamedTensor}. Initializer data may sit in
 * `raw_data`, in the typed repeated fields, or in external data files beside the model. The
 * protobuf schema (onnx-proto) is loaded on the first read, from `./libraries.ts`.
 *
 * @example
 * ```ts
 * import { readOnnx } from "./onnx.ts";
 * const file = "testdata/fixtures/nets/tv_basic.onnx";
 * const model = await readOnnx(await Deno.readFile(file), file);
 * console.log(model.opset, model.graph.nodes.length, model.graph.initializers.size); // 13 34 30
 * ```
 *
 * @module
 */

import type { onnx as OnnxTypes } from "onnx-proto";
import { loadOnnxProto, type OnnxSchema } from "./libraries.ts";
import type { NamedTensor } from "./tensor.ts";
import { ZooFormatError } from "../arch/errors.ts";
import { bfloat16BitsToFloat32, float16BitsToFloat32 } from "./float16.ts";
import {
  decodeLittleEndian,
  elementCount,
  lazyFloat32Tensor,
  RAW_DTYPES,
  type RawDType,
} from "./raw.ts";

/** A parsed ONNX model. */
export interface OnnxModel {
  /** The IR version of the file format. */
  irVersion: number;
  /** The operator set version imported for the default (`ai.onnx`) domain. */
  opset: number;
  /** `producer_name`, e.g. `pytorch`. */
  producer: string;
  /**
   * `metadata_props` as `[key, value]` pairs in file order (a key may repeat: only the ONNX
   * checker refuses that). The zoo's exports record preprocessing and class names here.
   */
  metadataProps: [string, string][];
  /** The main graph. */
  graph: OnnxGraph;
}

/** The main graph of an ONNX model. */
export interface OnnxGraph {
  /** The graph's name. */
  name: string;
  /** Nodes, in file order (topologically sorted in valid models). */
  nodes: OnnxNode[];
  /** Graph inputs that are not initializers (older exporters list initializers as inputs too). */
  inputs: OnnxValueInfo[];
  /** Graph outputs. */
  outputs: OnnxValueInfo[];
  /** Constant tensors by name, in file order. */
  initializers: Map<string, NamedTensor>;
}

/** A graph input or output. */
export interface OnnxValueInfo {
  /** The value's name. */
  name: string;
  /** Each dimension's `dim_value`, its `dim_param` (a symbolic name such as `N`), or `"?"` when it has neither. Empty when the value has no tensor shape. */
  shape: (number | string)[];
}

/** One operator application. */
export interface OnnxNode {
  /** The node's name (may be empty). */
  name: string;
  /** The operator, e.g. `Conv`. */
  opType: string;
  /** The operator's domain; `""` is the default ONNX domain. */
  domain: string;
  /** Input value names; `""` marks an omitted optional input. */
  inputs: string[];
  /** Output value names. */
  outputs: string[];
  /** Attributes by name. */
  attributes: Record<string, OnnxAttribute>;
}

/** An attribute value: INT/FLOAT → number, INTS/FLOATS → number[], STRING(S) → UTF-8 decoded string(s), TENSOR → tensor. */
export type OnnxAttribute = number | string | number[] | string[] | NamedTensor;

/** Options of {@link readOnnx}. */
export interface ReadOnnxOptions {
  /** Where external data files are looked up; default: the directory of the model file. */
  externalDataDir?: string;
}

/** A protobuf int64 as protobufjs returns it: a number or a `Long` (two signed 32-bit halves). */
type ProtoInt64 = number | { low: number; high: number };

/** How an ONNX tensor element type is stored in raw_data and in its typed field. */
interface OnnxTypeLayout {
  /** The raw little-endian encoding of `raw_data` and external data. */
  raw: RawDType;
  /** Reads the typed repeated field onnx.proto assigns to this type. */
  typed: (tensor: OnnxTypes.ITensorProto) => NamedTensor["data"];
}

function toBigInt(value: ProtoInt64): bigint {
  if (typeof value === "number") return BigInt(value);
  return BigInt.asIntN(64, (BigInt(value.high) << 32n) | BigInt(value.low >>> 0));
}

/**
 * The element types this reader decodes, by their names in onnx.proto; int32_data carries every
 * type of 16 bits or less.
 */
const ONNX_TYPE_LAYOUTS: Readonly<Record<string, OnnxTypeLayout>> = {
  FLOAT: {
    raw: "F32",
    typed: (t) => Float32Array.from(t.floatData ?? []),
  },
  FLOAT16: {
    raw: "F16",
    typed: (t) => float16BitsToFloat32(Uint16Array.from(t.int32Data ?? [])),
  },
  BFLOAT16: {
    raw: "BF16",
    typed: (t) => bfloat16BitsToFloat32(Uint16Array.from(t.int32Data ?? [])),
  },
  DOUBLE: {
    raw: "F64",
    typed: (t) => Float32Array.from(t.doubleData ?? []),
  },
  INT64: {
    raw: "I64",
    typed: (t) => BigInt64Array.from(t.int64Data ?? [], toBigInt),
  },
  INT32: {
    raw: "I32",
    typed: (t) => Int32Array.from(t.int32Data ?? []),
  },
  INT16: {
    raw: "I16",
    typed: (t) => Int32Array.from(t.int32Data ?? []),
  },
  UINT16: {
    raw: "U16",
    typed: (t) => Int32Array.from(t.int32Data ?? []),
  },
  INT8: {
    raw: "I8",
    typed: (t) => Int32Array.from(t.int32Data ?? []),
  },
  UINT8: {
    raw: "U8",
    typed: (t) => Uint8Array.from(t.int32Data ?? []),
  },
  BOOL: {
    raw: "BOOL",
    typed: (t) => Uint8Array.from(t.int32Data ?? []),
  },
};

/** Reads external data files, each once per model, relative to one directory. */
class ExternalDataReader {
  readonly #files = new Map<string, Uint8Array>();

  constructor(readonly modelFile: string, readonly directory: string) {}

  /** The bytes of one tensor, from its `location`/`offset`/`length` entries. */
  read(tensorName: string, entries: OnnxTypes.IStringStringEntryProto[]): Uint8Array {
    const keys = new Map(entries.map((entry) => [entry.key ?? "", entry.value ?? ""]));
    const location = keys.get("location");
    if (!location) {
      throw new ZooFormatError(this.modelFile, `external tensor '${tensorName}' has no location`);
    }
    // As onnx's checker does, keep external files inside the model's directory.
    if (/^([/\\]|[A-Za-z]:)/.test(location) || location.split(/[/\\]/).includes("..")) {
      throw new ZooFormatError(
        this.modelFile,
        `external tensor '${tensorName}' location '${location}' must be a relative path ` +
          `inside the model directory`,
      );
    }
    const data = this.#file(tensorName, `${this.directory}/${location}`);
    const offset = this.#count(tensorName, keys, "offset") ?? 0;
    const length = this.#count(tensorName, keys, "length") ?? data.length - offset;
    if (offset > data.length || offset + length > data.length) {
      throw new ZooFormatError(
        this.modelFile,
        `external tensor '${tensorName}' at offset ${offset}, length ${length} ` +
          `lies beyond the ${data.length} bytes of '${location}'`,
      );
    }
    return data.subarray(offset, offset + length);
  }

  #file(tensorName: string, path: string): Uint8Array {
    let data = this.#files.get(path);
    if (!data) {
      try {
        data = Deno.readFileSync(path);
      } catch (error) {
        const reason = error instanceof Deno.errors.NotFound
          ? "not found"
          : `unreadable: ${(error as Error).message}`;
        throw new ZooFormatError(
          this.modelFile,
          `external data file '${path}' (tensor '${tensorName}') ${reason}`,
        );
      }
      this.#files.set(path, data);
    }
    return data;
  }

  #count(tensorName: string, keys: Map<string, string>, key: string): number | undefined {
    const text = keys.get(key);
    if (text === undefined) return undefined;
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) {
      throw new ZooFormatError(
        this.modelFile,
        `external tensor '${tensorName}' has ${key} '${text}', not a byte count`,
      );
    }
    return Number(text);
  }
}

function decodeTensor(
  onnx: OnnxSchema,
  file: string,
  tensor: OnnxTypes.ITensorProto,
  external: ExternalDataReader,
): NamedTensor {
  const name = tensor.name ?? "";
  const shape = (tensor.dims ?? []).map(Number);
  if (!shape.every((dim) => Number.isSafeInteger(dim) && dim >= 0)) {
    throw new ZooFormatError(file, `tensor '${name}' has invalid dims ${JSON.stringify(shape)}`);
  }
  const typeName: string | undefined = onnx.TensorProto.DataType[tensor.dataType ?? 0];
  if (typeName === undefined || !Object.hasOwn(ONNX_TYPE_LAYOUTS, typeName)) {
    throw new ZooFormatError(
      file,
      `tensor '${name}' has unsupported data type ${typeName ?? String(tensor.dataType)}`,
    );
  }
  const layout = ONNX_TYPE_LAYOUTS[typeName];
  if (tensor.segment) {
    throw new ZooFormatError(file, `tensor '${name}' is segmented, which is not supported`);
  }
  const count = elementCount(shape);
  const { bytesPerElement, dtype } = RAW_DTYPES[layout.raw];
  // External data is always raw; otherwise an empty raw_data means a typed field holds the values.
  const raw = tensor.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL
    ? external.read(name, tensor.externalData ?? [])
    : tensor.rawData?.length
    ? tensor.rawData
    : undefined;
  if (raw) {
    const expectedBytes = count * bytesPerElement;
    if (raw.length !== expectedBytes) {
      throw new ZooFormatError(
        file,
        `tensor '${name}' (${typeName} ${JSON.stringify(shape)}) has ${raw.length} ` +
          `bytes of data, expected ${expectedBytes}`,
      );
    }
    return layout.raw === "F32"
      ? lazyFloat32Tensor(name, shape, raw)
      : { name, shape, dtype, data: decodeLittleEndian(layout.raw, raw) };
  }
  const data = layout.typed(tensor);
  if (data.length !== count) {
    throw new ZooFormatError(
      file,
      `tensor '${name}' (${typeName} ${JSON.stringify(shape)}) has ${data.length} ` +
        `values, expected ${count}`,
    );
  }
  return { name, shape, dtype, data };
}

/**
 * The attribute's kind. Files from before the `type` field (IR version 1) leave it UNDEFINED;
 * then the one field that is set tells.
 */
function attributeKind(onnx: OnnxSchema, attribute: OnnxTypes.IAttributeProto): number {
  const AttributeType = onnx.AttributeProto.AttributeType;
  if (attribute.type) return attribute.type;
  const has = (field: string) => Object.hasOwn(attribute, field);
  if (has("f")) return AttributeType.FLOAT;
  if (has("i")) return AttributeType.INT;
  if (has("s")) return AttributeType.STRING;
  if (has("t")) return AttributeType.TENSOR;
  if (attribute.floats?.length) return AttributeType.FLOATS;
  if (attribute.ints?.length) return AttributeType.INTS;
  if (attribute.strings?.length) return AttributeType.STRINGS;
  return AttributeType.UNDEFINED;
}

function decodeAttribute(
  onnx: OnnxSchema,
  file: string,
  node: string,
  attribute: OnnxTypes.IAttributeProto,
  external: ExternalDataReader,
): OnnxAttribute {
  const utf8 = new TextDecoder();
  const AttributeType = onnx.AttributeProto.AttributeType;
  const kind = attributeKind(onnx, attribute);
  switch (kind) {
    case AttributeType.FLOAT:
      return attribute.f ?? 0;
    case AttributeType.INT:
      return Number(attribute.i ?? 0);
    case AttributeType.STRING:
      return utf8.decode(attribute.s ?? new Uint8Array());
    case AttributeType.TENSOR:
      if (!attribute.t) {
        throw new ZooFormatError(file, `${node} attribute '${attribute.name}' has no tensor`);
      }
      return decodeTensor(onnx, file, attribute.t, external);
    case AttributeType.FLOATS:
      return [...(attribute.floats ?? [])];
    case AttributeType.INTS:
      return (attribute.ints ?? []).map(Number);
    case AttributeType.STRINGS:
      return (attribute.strings ?? []).map((s) => utf8.decode(s));
    default:
      throw new ZooFormatError(
        file,
        `${node} attribute '${attribute.name}' has unsupported type ${AttributeType[kind] ?? kind}`,
      );
  }
}

function decodeValueInfo(info: OnnxTypes.IValueInfoProto): OnnxValueInfo {
  const dims = info.type?.tensorType?.shape?.dim ?? [];
  return {
    name: info.name ?? "",
    shape: dims.map((dim) => {
      if (dim.dimParam) return dim.dimParam;
      return Object.hasOwn(dim, "dimValue") ? Number(dim.dimValue) : "?";
    }),
  };
}

function decodeModelProto(
  onnx: OnnxSchema,
  bytes: Uint8Array,
  file: string,
): OnnxTypes.ModelProto {
  try {
    return onnx.ModelProto.decode(bytes);
  } catch (error) {
    throw new ZooFormatError(
      file,
      `not a valid ONNX model (protobuf decoding failed: ${(error as Error).message})`,
    );
  }
}

/**
 * Parses an ONNX model. Tensors are copied out of `bytes`; FLOAT16, BFLOAT16 and DOUBLE become
 * float32, INT8/INT16/UINT16 int32, INT64 a BigInt64Array. External data is read from disk
 * (`Deno.readFileSync`, so it needs read permission). It is async only because the first read
 * loads the protobuf schema.
 *
 * @param bytes The whole `.onnx` file.
 * @param file The model's path: named in errors, and its directory holds external data by default.
 * @param options `externalDataDir` overrides where external data files are looked up.
 * @throws {ZooFormatError} If the protobuf is malformed, a tensor's data does not match its
 * dims, a type is unsupported, or an external data file is missing.
 *
 * @example
 * ```ts
 * const file = "testdata/fixtures/onnx_reader/tiny_conv.onnx";
 * const model = await readOnnx(await Deno.readFile(file), file);
 * const conv = model.graph.nodes.find((n) => n.opType === "Conv");
 * const weight = model.graph.initializers.get(conv!.inputs[1]);
 * console.log(conv!.attributes.kernel_shape, weight?.shape); // [3, 3] [4, 3, 3, 3]
 * ```
 */
export async function readOnnx(
  bytes: Uint8Array,
  file: string,
  options: ReadOnnxOptions = {},
): Promise<OnnxModel> {
  const onnx = await loadOnnxProto();
  const model = decodeModelProto(onnx, bytes, file);
  const graph = model.graph;
  if (!graph) throw new ZooFormatError(file, "model has no graph");
  const opsetImport = model.opsetImport.find((o) => !o.domain || o.domain === "ai.onnx");
  if (!opsetImport) {
    throw new ZooFormatError(file, "model imports no opset for the default ONNX domain");
  }
  if (graph.sparseInitializer?.length) {
    throw new ZooFormatError(file, "sparse initializers are not supported");
  }

  const separator = Math.max(file.lastIndexOf("/"), file.lastIndexOf("\\"));
  const modelDirectory = separator >= 0 ? file.slice(0, separator) || "/" : ".";
  const external = new ExternalDataReader(file, options.externalDataDir ?? modelDirectory);

  const initializers = new Map<string, NamedTensor>();
  for (const proto of graph.initializer ?? []) {
    const tensor = decodeTensor(onnx, file, proto, external);
    if (initializers.has(tensor.name)) {
      throw new ZooFormatError(file, `initializer '${tensor.name}' appears twice`);
    }
    initializers.set(tensor.name, tensor);
  }

  const nodes = (graph.node ?? []).map((node, index): OnnxNode => {
    const label = `node '${node.name || `#${index}`}' (${node.opType})`;
    const attributes: Record<string, OnnxAttribute> = {};
    for (const attribute of node.attribute ?? []) {
      attributes[attribute.name ?? ""] = decodeAttribute(onnx, file, label, attribute, external);
    }
    return {
      name: node.name ?? "",
      opType: node.opType ?? "",
      domain: node.domain ?? "",
      inputs: [...node.input ?? []],
      outputs: [...node.output ?? []],
      attributes,
    };
  });

  return {
    irVersion: Number(model.irVersion),
    opset: Number(opsetImport.version),
    producer: model.producerName,
    metadataProps: (model.metadataProps ?? []).map((p) => [p.key ?? "", p.value ?? ""]),
    graph: {
      name: graph.name ?? "",
      nodes,
      inputs: (graph.input ?? []).filter((i) => !initializers.has(i.name ?? "")).map(
        decodeValueInfo,
      ),
      outputs: (graph.output ?? []).map(decodeValueInfo),
      initializers,
    },
  };
}

/**
 * Returns a tensor's elements as float32: the data itself when it already is, else a converted
 * copy (int64 values beyond 2^24 lose precision). Handy for Constant values and initializers
 * whose ONNX type varies between exporters.
 *
 * @example
 * ```ts
 * import { readOnnx } from "./onnx.ts";
 * const file = "testdata/fixtures/onnx_reader/basic.onnx";
 * const model = await readOnnx(await Deno.readFile(file), file);
 * const flags = model.graph.initializers.get("flags")!; // BOOL [3]
 * console.log(onnxTensorToFloat32(flags)); // Float32Array(3) [ 1, 0, 1 ]
 * ```
 */
export function onnxTensorToFloat32(t: NamedTensor): Float32Array {
  if (t.data instanceof Float32Array) return t.data;
  if (t.data instanceof BigInt64Array) return Float32Array.from(t.data, Number);
  return Float32Array.from(t.data);
}
