/**
 * Building an ONNX graph without the ONNX schema: the enum values of onnx.proto the exporters
 * write (fixed by the standard), attribute helpers, and {@link GraphBuilder}, which collects
 * nodes and initializers — in `raw_data`, or as chunks of an external data file. protobuf.js
 * and the schema are loaded only to encode the finished model (`onnx_export.ts`).
 *
 * @example
 * ```ts
 * import { GraphBuilder, ints } from "./onnx_graph.ts";
 * const graph = new GraphBuilder();
 * const weight = graph.float("w", [1, 1, 1, 1], new Float32Array([2]));
 * graph.node("Conv", ["input", weight], "output", [ints("kernel_shape", [1, 1])]);
 * console.log(graph.nodes.length, graph.initializers.length); // 1 1
 * ```
 *
 * @module
 */

import type { onnx as OnnxTypes } from "onnx-proto";

/** The attribute types of onnx.proto the exporters write. */
const AttributeType = { FLOAT: 1, INT: 2, STRING: 3, INTS: 7 } as const;

/**
 * The tensor element types of onnx.proto the exporters write.
 *
 * @example
 * ```ts
 * import { DataType } from "./onnx_graph.ts";
 * console.log(DataType.INT8); // 3
 * ```
 */
export const DataType = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7 } as const;

/** A value of {@link DataType}. */
export type DataTypeCode = (typeof DataType)[keyof typeof DataType];

const EXTERNAL_DATA_LOCATION = 1;

/**
 * Weights start at multiples of this in an external data file: onnxruntime maps a tensor
 * from the file (rather than copying it) when its offset is page-aligned.
 */
const EXTERNAL_DATA_ALIGNMENT = 4096;

/**
 * The ONNX IR version that introduced an opset's release (IR 7 up to opset 14, IR 8 after).
 *
 * @example
 * ```ts
 * console.log(irVersionFor(13), irVersionFor(17)); // 7 8
 * ```
 */
export function irVersionFor(opset: number): number {
  return opset <= 14 ? 7 : 8;
}

function bytesOf(data: ArrayBufferView): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * Accumulates nodes and initializers; value names double as node names. Given an external
 * data file name, weights (float and int8 tensors) are collected as that file's chunks instead
 * of `raw_data`; small constants always stay inline.
 *
 * @example
 * ```ts
 * const graph = new GraphBuilder("model.onnx.data");
 * graph.float("w", [2], new Float32Array([1, 2]));
 * console.log(graph.externalChunks.length); // 1
 * ```
 */
export class GraphBuilder {
  /** The nodes, in the order written. */
  readonly nodes: OnnxTypes.INodeProto[] = [];
  /** The initializers. */
  readonly initializers: OnnxTypes.ITensorProto[] = [];
  /** The external data file's contents, in order (empty without one). */
  readonly externalChunks: Uint8Array[] = [];
  readonly #initializerNames = new Set<string>();
  readonly #externalFile?: string;
  #externalLength = 0;

  /** @param externalFile The external data file's name, for weights; none: inline. */
  constructor(externalFile?: string) {
    this.#externalFile = externalFile;
  }

  /** A weight initializer (external when the graph has a data file); returns its name. */
  weight(name: string, shape: number[], dataType: DataTypeCode, data: ArrayBufferView): string {
    const tensor: OnnxTypes.ITensorProto = { name, dims: shape, dataType };
    if (this.#externalFile === undefined) {
      tensor.rawData = bytesOf(data);
    } else {
      const offset = Math.ceil(this.#externalLength / EXTERNAL_DATA_ALIGNMENT) *
        EXTERNAL_DATA_ALIGNMENT;
      if (offset > this.#externalLength) {
        this.externalChunks.push(new Uint8Array(offset - this.#externalLength));
      }
      this.externalChunks.push(bytesOf(data));
      this.#externalLength = offset + data.byteLength;
      tensor.dataLocation = EXTERNAL_DATA_LOCATION;
      tensor.externalData = [
        { key: "location", value: this.#externalFile },
        { key: "offset", value: String(offset) },
        { key: "length", value: String(data.byteLength) },
      ];
    }
    this.initializers.push(tensor);
    this.#initializerNames.add(name);
    return name;
  }

  /** A float32 weight initializer; returns its name. */
  float(name: string, shape: number[], data: Float32Array): string {
    return this.weight(name, shape, DataType.FLOAT, data);
  }

  /**
   * A small constant, always inline, shared by every node that asks for the same name (the
   * first request's value stands).
   */
  constant(name: string, shape: number[], dataType: DataTypeCode, data: ArrayBufferView): string {
    if (!this.#initializerNames.has(name)) {
      this.initializers.push({ name, dims: shape, dataType, rawData: bytesOf(data) });
      this.#initializerNames.add(name);
    }
    return name;
  }

  /** An int64 vector constant, shared by name. */
  int64(name: string, values: bigint[]): string {
    return this.constant(name, [values.length], DataType.INT64, BigInt64Array.from(values));
  }

  /** Adds a node writing one value, named as the value; returns the value's name. */
  node(
    opType: string,
    inputs: string[],
    output: string,
    attribute: OnnxTypes.IAttributeProto[] = [],
  ): string {
    this.nodes.push({ name: output, opType, input: inputs, output: [output], attribute });
    return output;
  }
}

/**
 * An INTS attribute.
 *
 * @example
 * ```ts
 * console.log(ints("perm", [0, 2, 3, 1]).ints); // [ 0, 2, 3, 1 ]
 * ```
 */
export const ints = (name: string, values: number[]): OnnxTypes.IAttributeProto => ({
  name,
  type: AttributeType.INTS,
  ints: values,
});

/**
 * An INT attribute.
 *
 * @example
 * ```ts
 * console.log(int("axis", 1).i); // 1
 * ```
 */
export const int = (name: string, value: number): OnnxTypes.IAttributeProto => ({
  name,
  type: AttributeType.INT,
  i: value,
});

/**
 * A FLOAT attribute.
 *
 * @example
 * ```ts
 * console.log(float("epsilon", 1e-5).f); // 0.00001
 * ```
 */
export const float = (name: string, value: number): OnnxTypes.IAttributeProto => ({
  name,
  type: AttributeType.FLOAT,
  f: value,
});

/**
 * A STRING attribute.
 *
 * @example
 * ```ts
 * console.log(text("auto_pad", "VALID").s?.length); // 5
 * ```
 */
export const text = (name: string, value: string): OnnxTypes.IAttributeProto => ({
  name,
  type: AttributeType.STRING,
  s: new TextEncoder().encode(value),
});

/**
 * A float tensor's value info with named or fixed dimensions.
 *
 * @example
 * ```ts
 * console.log(tensorType("input", ["N", 3, 32, 32]).name); // input
 * ```
 */
export function tensorType(name: string, dims: (number | string)[]): OnnxTypes.IValueInfoProto {
  const dim = dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d }));
  return { name, type: { tensorType: { elemType: DataType.FLOAT, shape: { dim } } } };
}
