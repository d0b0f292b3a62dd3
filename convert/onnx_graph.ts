/**
 * The building blocks of the zoo's ONNX export (`onnx_export.ts`): a graph builder that collects
 * nodes and float/int64 initializers (inline `raw_data` or an external data file), attribute
 * helpers, and the writers of the plan nodes that take more than one ONNX node or carry weights
 * (a conv with its BatchNorm folded, a BatchNormalization, a GroupNorm).
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

/**
 * The enum values of onnx.proto this exporter writes. They are fixed by the ONNX standard, so the
 * model is built without the schema, which is loaded (with protobuf.js) only to encode it.
 */
const AttributeType = { FLOAT: 1, INT: 2, STRING: 3, INTS: 7 } as const;
/** ONNX tensor element types this exporter writes. */
const DataType = { FLOAT: 1, INT64: 7 } as const;
const EXTERNAL_DATA_LOCATION = 1;

function bytesOf(data: Float32Array | BigInt64Array): Uint8Array {
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

  /** A float32 initializer; returns its name. */
  float(name: string, shape: number[], data: Float32Array): string {
    const tensor: OnnxTypes.ITensorProto = { name, dims: shape, dataType: DataType.FLOAT };
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

  /** An int64 constant, shared by every node that asks for the same name. */
  int64(name: string, values: bigint[]): string {
    if (!this.#initializerNames.has(name)) {
      const data = BigInt64Array.from(values);
      this.initializers.push({
        name,
        dims: [values.length],
        dataType: DataType.INT64,
        rawData: bytesOf(data),
      });
      this.#initializerNames.add(name);
    }
    return name;
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
/** A Conv node with the BatchNorm after it (if any) folded in; the kernel goes OIHW. */
export function writeConv(
  graph: GraphBuilder,
  node: ConvNode,
  bn: BatchNormNode | null,
  weights: WeightMap,
  input: string,
  output: string,
): string {
  const { kernel, bias } = foldBatchNorm(node, bn, weights);
  const oihw = hwioToOihw({
    shape: [node.kernel, node.kernel, node.inChannels / node.groups, node.outChannels],
    data: kernel,
  });
  const k = node.kernel;
  return graph.node(
    "Conv",
    [
      input,
      graph.float(`${node.name}.weight`, oihw.shape, oihw.data),
      graph.float(`${node.name}.bias`, [node.outChannels], bias),
    ],
    output,
    [
      ints("kernel_shape", [k, k]),
      ints("strides", [node.stride, node.stride]),
      ints("pads", [node.pad, node.pad, node.pad, node.pad]),
      ints("dilations", [1, 1]),
      int("group", node.groups),
    ],
  );
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
