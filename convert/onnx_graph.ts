/**
 * The building blocks of the zoo's ONNX export (`onnx_export.ts`): a graph builder that collects
 * nodes and initializers (weights inline in `raw_data` or in an external data file; float32,
 * and for int8 graphs int8 and int32), attribute helpers, and the writers of the plan nodes that
 * take more than one ONNX node or carry weights (a conv with its BatchNorm folded — int8 in an
 * int8 graph —, a BatchNormalization, a GroupNorm).
 *
 * @example
 * ```ts
 * import { GraphBuilder, ints } from "./onnx_graph.ts";
 * const graph = new GraphBuilder();
 * graph.node("Relu", ["input"], "output", [ints("unused", [1])]);
 * console.log(graph.nodes.length, graph.nodes[0].opType); // 1 Relu
 * ```
 *
 * @module
 */

import type { onnx as OnnxTypes } from "onnx-proto";
import type { BatchNormNode, ConvNode, GroupNormNode } from "../arch/plan.ts";
import { foldBatchNorm } from "../arch/fold.ts";
import type { WeightMap } from "../arch/weights.ts";
import { hwioToOihw } from "./layout.ts";
import type { QdqWriter } from "./onnx_qdq.ts";

/**
 * The enum values of onnx.proto this exporter writes. They are fixed by the ONNX standard, so the
 * model is built without the schema, which is loaded (with protobuf.js) only to encode it.
 */
const AttributeType = { FLOAT: 1, INT: 2, STRING: 3, INTS: 7 } as const;
/**
 * ONNX tensor element types this exporter writes.
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

function bytesOf(data: ArrayBufferView): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * Weights start at multiples of this in an external data file: onnxruntime maps a tensor
 * from the file (rather than copying it) when its offset is page-aligned.
 */
const EXTERNAL_DATA_ALIGNMENT = 4096;

/**
 * Accumulates nodes and initializers; value names double as node names. Given an external
 * data file name, float weights are collected as that file's chunks instead of `raw_data`.
 */
export class GraphBuilder {
  /** The nodes, in the order written. */
  readonly nodes: OnnxTypes.INodeProto[] = [];
  /** The initializers. */
  readonly initializers: OnnxTypes.ITensorProto[] = [];
  /** The external data file's contents, in order, when there is one. */
  readonly externalChunks: Uint8Array[] = [];
  readonly #initializerNames = new Set<string>();
  readonly #externalFile?: string;
  #externalLength = 0;

  /** A builder writing float weights inline, or into `externalFile` when given. */
  constructor(externalFile?: string) {
    this.#externalFile = externalFile;
  }

  /** A weight initializer (in the external data file when there is one); returns its name. */
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

  /** An int64 vector constant, shared by every node that asks for the same name. */
  int64(name: string, values: bigint[]): string {
    return this.constant(name, [values.length], DataType.INT64, BigInt64Array.from(values));
  }

  /** A node writing one output, named as the output; returns that name. */
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

/** An INTS attribute. */
export const ints = (name: string, values: number[]): OnnxTypes.IAttributeProto => ({
  name,
  type: AttributeType.INTS,
  ints: values,
});
/** An INT attribute. */
export const int = (name: string, value: number): OnnxTypes.IAttributeProto => ({
  name,
  type: AttributeType.INT,
  i: value,
});
/** A FLOAT attribute. */
export const float = (name: string, value: number): OnnxTypes.IAttributeProto => ({
  name,
  type: AttributeType.FLOAT,
  f: value,
});
/** A STRING attribute. */
export const text = (name: string, value: string): OnnxTypes.IAttributeProto => ({
  name,
  type: AttributeType.STRING,
  s: new TextEncoder().encode(value),
});

/** A float tensor's value info with named or fixed dimensions. */
export function tensorType(name: string, dims: (number | string)[]): OnnxTypes.IValueInfoProto {
  const dim = dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d }));
  return { name, type: { tensorType: { elemType: DataType.FLOAT, shape: { dim } } } };
}
/**
 * A Conv node with the BatchNorm after it (if any) folded in; the kernel goes OIHW. In an int8
 * graph (`qdq`: the writer and the dequantized input's scale) the folded kernel is quantized per
 * output channel, which gives back a stored int8 kernel's own values (see `quantize.ts`), and
 * the bias becomes int32.
 */
export function writeConv(
  graph: GraphBuilder,
  node: ConvNode,
  bn: BatchNormNode | null,
  weights: WeightMap,
  input: string,
  output: string,
  qdq?: { writer: QdqWriter; inputScale: number },
): string {
  const { kernel, bias } = foldBatchNorm(node, bn, weights);
  const oihw = hwioToOihw({
    shape: [node.kernel, node.kernel, node.inChannels / node.groups, node.outChannels],
    data: kernel,
  });
  const k = node.kernel;
  let parameters: string[];
  if (qdq) {
    const { value, scales } = qdq.writer.kernel(
      graph,
      `${node.name}.weight`,
      oihw.shape,
      oihw.data,
      0,
    );
    parameters = [value, qdq.writer.bias(graph, `${node.name}.bias`, bias, qdq.inputScale, scales)];
  } else {
    parameters = [
      graph.float(`${node.name}.weight`, oihw.shape, oihw.data),
      graph.float(`${node.name}.bias`, [node.outChannels], bias),
    ];
  }
  return graph.node("Conv", [input, ...parameters], output, [
    ints("kernel_shape", [k, k]),
    ints("strides", [node.stride, node.stride]),
    ints("pads", [node.pad, node.pad, node.pad, node.pad]),
    ints("dilations", [1, 1]),
    int("group", node.groups),
  ]);
}

/** A BatchNormalization node; a non-affine BN gets unit scale and zero bias. */
export function writeBatchNorm(
  graph: GraphBuilder,
  node: BatchNormNode,
  weights: WeightMap,
  input: string,
  output: string,
): string {
  const param = (p: string) => weights.get(`${node.name}/${p}`)!.data;
  const n = node.channels;
  const gamma = node.affine ? param("gamma") : new Float32Array(n).fill(1);
  const beta = node.affine ? param("beta") : new Float32Array(n);
  return graph.node(
    "BatchNormalization",
    [
      input,
      graph.float(`${node.name}.weight`, [n], gamma),
      graph.float(`${node.name}.bias`, [n], beta),
      graph.float(`${node.name}.running_mean`, [n], param("moving_mean")),
      graph.float(`${node.name}.running_var`, [n], param("moving_variance")),
    ],
    output,
    [float("epsilon", node.epsilon)],
  );
}

/**
 * GroupNorm as torch.onnx writes it before opset 18 (whose GroupNormalization scales per group):
 * the NCHW input reshaped to [N, groups, rest], InstanceNormalization with unit scale, reshaped
 * back, then the per-channel gamma and beta.
 */
export function writeGroupNorm(
  graph: GraphBuilder,
  node: GroupNormNode,
  weights: WeightMap,
  input: string,
  output: string,
): string {
  const param = (p: string) => weights.get(`${node.name}/${p}`)!.data;
  const g = node.groups;
  const shape = graph.node("Shape", [input], `${node.name}/shape`);
  const grouped = graph.node(
    "Reshape",
    [input, graph.int64(`shape_groups_${g}`, [0n, BigInt(g), -1n])],
    `${node.name}/grouped`,
  );
  const normalised = graph.node(
    "InstanceNormalization",
    [
      grouped,
      graph.float(`${node.name}.group_scale`, [g], new Float32Array(g).fill(1)),
      graph.float(`${node.name}.group_bias`, [g], new Float32Array(g)),
    ],
    `${node.name}/normalised`,
    [float("epsilon", node.epsilon)],
  );
  const back = graph.node("Reshape", [normalised, shape], `${node.name}/ungrouped`);
  const c = node.channels;
  const scaled = graph.node(
    "Mul",
    [back, graph.float(`${node.name}.weight`, [c, 1, 1], param("gamma"))],
    `${node.name}/scaled`,
  );
  return graph.node(
    "Add",
    [scaled, graph.float(`${node.name}.bias`, [c, 1, 1], param("beta"))],
    output,
  );
}
