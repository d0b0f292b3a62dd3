/**
 * The int8 form of an ONNX export, in onnxruntime's QDQ format: every activation that an int8
 * kernel reads passes through QuantizeLinear → DequantizeLinear (unsigned 8 bits, with the range
 * its calibration measured), every conv and dense kernel is an int8 initializer (symmetric, one
 * scale per output channel) behind a DequantizeLinear, and every bias an int32 one whose scale is
 * the input's times the kernel's. onnxruntime recognises the pattern around each Conv, Add,
 * MaxPool, GlobalAveragePool and Gemm and runs int8 kernels instead (QLinearConv and friends,
 * VNNI instructions where the CPU has them); anything else computes in float between the
 * dequantization and the next quantization.
 *
 * @example
 * ```ts
 * import { GraphBuilder } from "./onnx_graph.ts";
 * import { QdqWriter } from "./onnx_qdq.ts";
 * const qdq = new QdqWriter({
 *   method: "minmax",
 *   images: 1,
 *   sha256: "0".repeat(64),
 *   ranges: [{ node: 0, min: -1, max: 1 }],
 * });
 * const graph = new GraphBuilder();
 * console.log(qdq.activation(graph, "input", 0), graph.nodes.map((n) => n.opType)); // input/dequantized [ "QuantizeLinear", "DequantizeLinear" ]
 * ```
 *
 * @module
 */

import { DataType, type GraphBuilder, int } from "./onnx_graph.ts";
import { type Calibration, quantizeKernel, uint8Parameters } from "./quantize.ts";

/** Where QDQ insertion needs the quantization of a node that has none. */
function missingRange(index: number): never {
  throw new Error(`int8 export: no calibrated range for plan node ${index}`);
}

/**
 * Writes the int8 parts of an export: activation QDQ pairs from a calibration's ranges, int8
 * kernels and int32 biases.
 *
 * @example
 * ```ts
 * import { QdqWriter } from "./onnx_qdq.ts";
 * const qdq = new QdqWriter({ method: "minmax", images: 1, sha256: "0".repeat(64), ranges: [{ node: 3, min: 0, max: 2.55 }] });
 * console.log(qdq.quantizes(3), qdq.scale(3)); // true 0.009999999776482582
 * ```
 */
export class QdqWriter {
  readonly #parameters: Map<number, { scale: number; zeroPoint: number }>;

  /** @param calibration The ranges of every activation to quantize. */
  constructor(calibration: Calibration) {
    this.#parameters = new Map(calibration.ranges.map((r) => [r.node, uint8Parameters(r)]));
  }

  /** Whether plan node `index`'s output is quantized. */
  quantizes(index: number): boolean {
    return this.#parameters.has(index);
  }

  /** The scale of plan node `index`'s quantized output. */
  scale(index: number): number {
    return (this.#parameters.get(index) ?? missingRange(index)).scale;
  }

  /** QuantizeLinear → DequantizeLinear of `value`, plan node `index`'s output; the result's name. */
  activation(graph: GraphBuilder, value: string, index: number): string {
    const { scale, zeroPoint } = this.#parameters.get(index) ?? missingRange(index);
    const s = graph.constant(`${value}/scale`, [], DataType.FLOAT, Float32Array.of(scale));
    const z = graph.constant(`${value}/zero_point`, [], DataType.UINT8, Uint8Array.of(zeroPoint));
    const quantized = graph.node("QuantizeLinear", [value, s, z], `${value}/quantized`);
    return graph.node("DequantizeLinear", [quantized, s, z], `${value}/dequantized`);
  }

  /**
   * A kernel as int8 initializer + per-channel DequantizeLinear: `data` in `shape`, output
   * channels on `axis` (0 for a Conv's OIHW, 1 for a Gemm's `[in, out]`). Returns the
   * dequantized value's name and the channel scales.
   */
  kernel(
    graph: GraphBuilder,
    name: string,
    shape: number[],
    data: Float32Array,
    axis: 0 | 1,
  ): { value: string; scales: Float32Array } {
    const channels = shape[axis];
    const { values, scales } = quantizeKernel(data, channels, axis === 0 ? "first" : "last");
    const weight = graph.weight(name, shape, DataType.INT8, values);
    const s = graph.weight(`${name}/scale`, [channels], DataType.FLOAT, scales);
    const z = graph.weight(
      `${name}/zero_point`,
      [channels],
      DataType.INT8,
      new Int8Array(channels),
    );
    const value = graph.node("DequantizeLinear", [weight, s, z], `${name}/dequantized`, [
      int("axis", axis),
    ]);
    return { value, scales };
  }

  /**
   * A bias as int32 initializer + DequantizeLinear, in steps of the input scale times each
   * channel's kernel scale (what an int8 kernel's int32 accumulator counts in).
   */
  bias(
    graph: GraphBuilder,
    name: string,
    bias: Float32Array,
    inputScale: number,
    scales: Float32Array,
  ) {
    const steps = scales.map((s) => Math.fround(inputScale * s));
    const values = Int32Array.from(
      bias,
      (b, c) => Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, Math.round(b / steps[c]))),
    );
    const weight = graph.weight(name, [bias.length], DataType.INT32, values);
    const s = graph.weight(`${name}/scale`, [bias.length], DataType.FLOAT, steps);
    const z = graph.weight(
      `${name}/zero_point`,
      [bias.length],
      DataType.INT32,
      new Int32Array(bias.length),
    );
    return graph.node("DequantizeLinear", [weight, s, z], `${name}/dequantized`, [int("axis", 0)]);
  }
}
