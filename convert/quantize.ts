/**
 * Smaller weights: the zoo file's precisions (float32, float16, int8), the int8 kernel scheme
 * (symmetric, one scale per output channel), and which activations an int8 graph quantizes and
 * their calibrated ranges.
 *
 * Symmetric per-channel kernels survive BatchNorm folding exactly: folding multiplies each output
 * channel by one number, so a folded kernel is the same int8 values with that channel's scale
 * multiplied (and its sign flipped where the factor is negative). The ONNX exporter therefore
 * re-quantizes folded kernels and gets back the stored values.
 *
 * @example
 * ```ts
 * import { dequantizeKernel, quantizeKernel } from "./quantize.ts";
 * // A 1×1 conv from 2 input channels to 2 output channels (HWIO: the last axis is the output).
 * const kernel = quantizeKernel(new Float32Array([0.5, -2, -0.25, 1]), 2);
 * console.log(kernel.values, kernel.scales); // Int8Array(4) [ 127, -127, -64, 64 ] Float32Array(2) [ 0.003937007859349251, 0.015748031437397003 ]
 * console.log(dequantizeKernel(kernel)); // Float32Array(4) [ 0.5, -2, -0.25196850299835205, 1.0078740119934082 ]
 * ```
 *
 * @module
 */

import type { Plan } from "../arch/plan.ts";
import type { Weight, WeightMap } from "../arch/weights.ts";
import { ZooFormatError } from "../arch/errors.ts";
import { float32ToFloat16Bits } from "../formats/float16.ts";
import { alignedFloat32View } from "../formats/raw.ts";
import type { NamedTensor } from "../formats/tensor.ts";

/**
 * The precision of a zoo file's weights: `float16` stores every tensor as IEEE half (computed in
 * float32 once read), `int8` stores conv and dense kernels as int8 with a float32 scale per
 * output channel (the rest float32).
 *
 * @example
 * ```ts
 * import type { WeightsDType } from "./quantize.ts";
 * const dtype: WeightsDType = "int8";
 * console.log(dtype); // int8
 * ```
 */
export type WeightsDType = "float32" | "float16" | "int8";

/** The precisions, for validation and usage messages. */
export const WEIGHTS_DTYPES: readonly WeightsDType[] = ["float32", "float16", "int8"];

/** The largest int8 magnitude used: the range is symmetric, −127 to 127, so negation is exact. */
const INT8_MAX = 127;

/**
 * A kernel in int8: `values` in the zoo layout (its last axis is the output channel) and one
 * scale per output channel; the kernel is `values[i] * scales[i % outChannels]`.
 *
 * @example
 * ```ts
 * import { type Int8Kernel, dequantizeKernel } from "./quantize.ts";
 * const kernel: Int8Kernel = { values: new Int8Array([127, -64]), scales: new Float32Array([0.5 / 127]) };
 * console.log(dequantizeKernel(kernel)); // Float32Array(2) [ 0.5, -0.25196850299835205 ]
 * ```
 */
export interface Int8Kernel {
  /** The int8 values, −127 to 127, in the kernel's layout. */
  values: Int8Array;
  /** Scale of each output channel, positive. */
  scales: Float32Array;
}

/**
 * Quantizes a kernel symmetrically per output channel: each channel's largest magnitude maps to
 * 127 and the rest rounds to the nearest step (halves away from zero, so −x and x stay
 * opposite). An all-zero channel gets scale 1.
 *
 * @param data The kernel.
 * @param outChannels The number of output channels.
 * @param axis Where the output channels are: the `last` axis (the zoo's HWIO and `[in, out]`,
 *   the default) or the `first` (ONNX's OIHW).
 * @returns The int8 values and per-channel scales.
 *
 * @example
 * ```ts
 * const { values } = quantizeKernel(new Float32Array([1, 0.5, 0.25, 0]), 1);
 * console.log(values); // Int8Array(4) [ 127, 64, 32, 0 ]
 * ```
 */
export function quantizeKernel(
  data: Float32Array,
  outChannels: number,
  axis: "first" | "last" = "last",
): Int8Kernel {
  const perChannel = data.length / outChannels;
  const channelOf = axis === "last"
    ? (i: number) => i % outChannels
    : (i: number) => Math.floor(i / perChannel);
  const maxima = new Float32Array(outChannels);
  for (let i = 0; i < data.length; i++) {
    const c = channelOf(i);
    maxima[c] = Math.max(maxima[c], Math.abs(data[i]));
  }
  const scales = maxima.map((m) => (m > 0 ? m / INT8_MAX : 1));
  const values = new Int8Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const q = data[i] / scales[channelOf(i)];
    values[i] = Math.max(-INT8_MAX, Math.min(INT8_MAX, Math.sign(q) * Math.round(Math.abs(q))));
  }
  return { values, scales };
}

/**
 * The float32 kernel an int8 kernel stands for.
 *
 * @example
 * ```ts
 * const kernel = quantizeKernel(new Float32Array([0.3, -0.6]), 1);
 * console.log(dequantizeKernel(kernel)); // Float32Array(2) [ 0.30236220359802246, -0.6000000238418579 ]
 * ```
 */
export function dequantizeKernel(kernel: Int8Kernel): Float32Array {
  const out = new Float32Array(kernel.values.length);
  const channels = kernel.scales.length;
  for (let i = 0; i < out.length; i++) out[i] = kernel.values[i] * kernel.scales[i % channels];
  return out;
}

/**
 * The weights an int8 file stores in int8: every conv and dense kernel of the plan.
 *
 * @example
 * ```ts
 * import { getSpec } from "../arch/presets.ts";
 * import { planResNet } from "../arch/plan.ts";
 * const names = int8KernelNames(planResNet(getSpec("cifar_resnet20")));
 * console.log(names.length, names[0]); // 20 conv1/kernel
 * ```
 */
export function int8KernelNames(plan: Plan): string[] {
  return plan.nodes.flatMap((node) =>
    node.op === "conv" || node.op === "dense" ? [`${node.name}/kernel`] : []
  );
}

/**
 * Refuses an int8 graph for a plan it does not serve: GroupNorm networks (BiT) compute with
 * weight-standardised kernels and group statistics that per-tensor uint8 activations follow
 * poorly (measured: logits 0.29 from float32's, relative, against 0.01–0.05 for BatchNorm
 * networks), so they stay float32.
 *
 * @throws {RangeError} For a plan with a GroupNorm.
 *
 * @example
 * ```ts
 * import { getSpec } from "../arch/presets.ts";
 * import { planResNet } from "../arch/plan.ts";
 * checkInt8Plan(planResNet(getSpec("resnet50"))); // passes
 * ```
 */
export function checkInt8Plan(plan: Plan): void {
  if (plan.nodes.some((node) => node.op === "gn")) {
    throw new RangeError(
      "int8 graphs are made for BatchNorm networks; a GroupNorm network (BiT) stays float32 " +
        "(store it as float16 for a smaller file)",
    );
  }
}

/** The plan operations that run as int8 kernels in onnxruntime, reading quantized values. */
const INT8_READERS = new Set(["conv", "add", "maxpool", "avgpool", "globalPool", "dense"]);

/**
 * The plan nodes whose outputs an int8 graph quantizes: every value a convolution, residual add,
 * pooling or dense layer reads (those run as int8 kernels). Values only a ReLU, a norm, an
 * attention gate (sigmoid, product, 1-D channel conv), subsampling or channel padding reads stay
 * float between the dequantization before them and the quantization after; a ReLU right before a
 * quantization to an unsigned range with zero point 0 is folded away by onnxruntime, being the
 * clipping the quantization does anyway.
 *
 * @example
 * ```ts
 * import { getSpec } from "../arch/presets.ts";
 * import { planResNet } from "../arch/plan.ts";
 * const plan = planResNet(getSpec("cifar_resnet20"));
 * const quantized = quantizedNodes(plan);
 * console.log(quantized.includes(0), plan.nodes[quantized[1]].op); // true relu
 * ```
 */
export function quantizedNodes(plan: Plan): number[] {
  const quantized = new Set<number>();
  for (const node of plan.nodes) {
    const reads = "inputs" in node ? node.inputs : "input" in node ? [node.input] : [];
    if (INT8_READERS.has(node.op)) reads.forEach((index) => quantized.add(index));
  }
  return [...quantized].sort((a, b) => a - b);
}

/**
 * The observed range of one quantized activation: the output of plan node `node`.
 *
 * @example
 * ```ts
 * import type { ActivationRange } from "./quantize.ts";
 * const input: ActivationRange = { node: 0, min: -2.1179, max: 2.64 };
 * console.log(input.max - input.min > 4); // true
 * ```
 */
export interface ActivationRange {
  /** Plan node index. */
  node: number;
  /** Smallest value seen. */
  min: number;
  /** Largest value seen. */
  max: number;
}

/**
 * Activation ranges measured on calibration images, and where they came from. Recorded in an int8
 * zoo file, they let onnxruntime run the network in int8.
 *
 * @example
 * ```ts
 * import type { Calibration } from "./quantize.ts";
 * const calibration: Calibration = {
 *   method: "minmax",
 *   images: 100,
 *   sha256: "0".repeat(64),
 *   ranges: [{ node: 0, min: -2.1, max: 2.6 }],
 * };
 * console.log(calibration.ranges.length); // 1
 * ```
 */
export interface Calibration {
  /** `minmax`: each range is the smallest and largest value over every calibration image. */
  method: "minmax";
  /** How many images were run. */
  images: number;
  /**
   * SHA-256 (hex) of the calibration set: of the images' own SHA-256 digests, in the order run,
   * each as 64 hex digits.
   */
  sha256: string;
  /** One range per node of {@link quantizedNodes}. */
  ranges: ActivationRange[];
}

/**
 * Unsigned 8-bit quantization parameters of a range, as ONNX QuantizeLinear takes them: the
 * range is widened to include 0 (so zero is exact, as padding and ReLU need), `scale` spreads it
 * over 0–255 and `zeroPoint` is where 0 lands.
 *
 * @example
 * ```ts
 * console.log(uint8Parameters({ node: 1, min: 0, max: 6.375 })); // { scale: 0.02500000037252903, zeroPoint: 0 }
 * ```
 */
export function uint8Parameters(range: ActivationRange): { scale: number; zeroPoint: number } {
  const min = Math.min(range.min, 0);
  const max = Math.max(range.max, 0);
  const scale = max > min ? (max - min) / 255 : 1;
  const zeroPoint = Math.max(0, Math.min(255, Math.round(-min / scale)));
  return { scale: Math.fround(scale), zeroPoint };
}

// --- Storing weights at a precision -------------------------------------------------------

/** The name of an int8 kernel's scale tensor in a zoo file. */
export function scaleTensorName(kernel: string): string {
  return `${kernel}_scale`;
}

/**
 * The tensors a zoo file stores for weights at a precision: float32 as they are; float16 as half
 * bit patterns; int8 with every conv and dense kernel as int8 beside its `_scale` tensor. The
 * float32 tensors come first, so that each lies 4-aligned in the file and is read as a view.
 *
 * @param plan The weights' plan (it tells which tensors are kernels).
 * @param weights The float32 weights, zoo layout.
 * @param dtype The precision to store.
 * @returns Tensors for `safetensorsChunks`, in file order.
 *
 * @example
 * ```ts
 * import { getSpec } from "../arch/presets.ts";
 * import { planResNet } from "../arch/plan.ts";
 * import { initialWeights } from "../arch/weights.ts";
 * const plan = planResNet(getSpec("cifar_resnet20"));
 * const tensors = storedTensors(plan, initialWeights(plan), "int8");
 * console.log(tensors.find((t) => t.name === "conv1/kernel")?.dtype); // int8
 * console.log(tensors.find((t) => t.name === "conv1/kernel_scale")?.shape); // [ 16 ]
 * ```
 */
export function storedTensors(
  plan: Plan,
  weights: WeightMap,
  dtype: WeightsDType,
): NamedTensor[] {
  const asIs = (name: string, w: Weight): NamedTensor => ({
    name,
    shape: w.shape,
    dtype: "float32",
    // Read only for weights in memory: a deferred one is written through `writeInto`.
    get data() {
      return w.data;
    },
    writeInto: w.writeInto,
  });
  if (dtype === "float32") return [...weights].map(([name, w]) => asIs(name, w));
  if (dtype === "float16") {
    return [...weights].map(([name, w]) => ({
      name,
      shape: w.shape,
      dtype: "float16",
      data: float32ToFloat16Bits(w.data),
    }));
  }
  const kernels = new Set(int8KernelNames(plan));
  const floats: NamedTensor[] = [];
  const int8: NamedTensor[] = [];
  for (const [name, w] of weights) {
    if (!kernels.has(name)) {
      floats.push(asIs(name, w));
      continue;
    }
    const outChannels = w.shape[w.shape.length - 1];
    const { values, scales } = quantizeKernel(w.data, outChannels);
    floats.push({
      name: scaleTensorName(name),
      shape: [outChannels],
      dtype: "float32",
      data: scales,
    });
    int8.push({ name, shape: w.shape, dtype: "int8", data: values });
  }
  return [...floats, ...int8];
}

/**
 * The float32 weights of tensors read back from a zoo file stored at a precision: float16 comes
 * widened already (the reader decodes it); int8 kernels are dequantized with their scales, which
 * must be positive and one per output channel, and their values within −127…127.
 *
 * @param tensors What `readSafetensors` returned.
 * @param dtype The precision the file records.
 * @param file The file's name, for errors.
 * @returns The weights in the zoo layout (views of the file's bytes where they lie aligned).
 * @throws {ZooFormatError} For a tensor of the wrong type, or an int8 kernel without a valid
 *   scale.
 *
 * @example
 * ```ts
 * import { getSpec } from "../arch/presets.ts";
 * import { planResNet } from "../arch/plan.ts";
 * import { initialWeights } from "../arch/weights.ts";
 * import { readSafetensors, writeSafetensors } from "../formats/safetensors.ts";
 * const plan = planResNet(getSpec("cifar_resnet20"));
 * const bytes = writeSafetensors(storedTensors(plan, initialWeights(plan, 1), "int8"));
 * const weights = restoredWeights(readSafetensors(bytes, "m").tensors, "int8", "m");
 * console.log(weights.get("conv1/kernel")?.data.constructor.name); // Float32Array
 * ```
 */
export function restoredWeights(
  tensors: NamedTensor[],
  dtype: WeightsDType,
  file: string,
): WeightMap {
  const byName = new Map(tensors.map((t) => [t.name, t]));
  const weights: WeightMap = new Map();
  for (const t of tensors) {
    if (dtype === "int8" && byName.has(scaleTensorName(t.name))) {
      weights.set(t.name, { shape: t.shape, data: int8Kernel(t, byName, file) });
    } else if (dtype === "int8" && t.name.endsWith("_scale") && byName.has(t.name.slice(0, -6))) {
      continue; // read with its kernel
    } else if (t.dtype !== "float32") {
      throw new ZooFormatError(file, `tensor '${t.name}' is not float32`);
    } else {
      // The zoo writes every float32 tensor 4-aligned: view the file's bytes, do not copy.
      weights.set(t.name, {
        shape: t.shape,
        data: alignedFloat32View(t) ?? t.data as Float32Array,
      });
    }
  }
  return weights;
}

/** An int8 kernel's float32 values, its scale checked. */
function int8Kernel(
  kernel: NamedTensor,
  byName: Map<string, NamedTensor>,
  file: string,
): Float32Array {
  const scale = byName.get(scaleTensorName(kernel.name))!;
  const outChannels = kernel.shape[kernel.shape.length - 1];
  // Safetensors I8 reads as int32.
  if (kernel.dtype !== "int32") {
    throw new ZooFormatError(file, `tensor '${kernel.name}' has a scale but is not int8`);
  }
  if (!(kernel.data as Int32Array).every((v) => v >= -127 && v <= 127)) {
    throw new ZooFormatError(file, `int8 kernel '${kernel.name}' holds values outside −127…127`);
  }
  const scales = scale.data as Float32Array;
  if (
    scale.dtype !== "float32" || scale.shape.length !== 1 || scale.shape[0] !== outChannels ||
    !scales.every((s) => Number.isFinite(s) && s > 0)
  ) {
    throw new ZooFormatError(
      file,
      `tensor '${scale.name}' must be ${outChannels} positive float32 scales, one per output channel`,
    );
  }
  return dequantizeKernel({ values: Int8Array.from(kernel.data as Int32Array), scales });
}
