/**
 * The spatial operators, which run NHWC: Conv (with a following BatchNormalization folded into
 * its weights and a following activation fused), MaxPool, AveragePool, the global pools and
 * BatchNormalization on its own.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { useBackend } from "../../runtime/backend.ts";
 * await useBackend("cpu");
 * import { readOnnx } from "../../formats/onnx.ts";
 * import { loadOnnxGraph } from "./load.ts";
 * // Grouped, depthwise and dilated convolutions.
 * const file = "testdata/fixtures/onnx_ops/grouped_op11.onnx";
 * const graph = loadOnnxGraph(await readOnnx(await Deno.readFile(file), file), file);
 * console.log(graph.predict(tf.zeros([2, 3, 16, 16])).shape); // [ 2, 10 ]
 * graph.dispose();
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import type { Tensor, Tensor4D } from "../../runtime/tensor.ts";
import { oihwToHwio } from "../../convert/layout.ts";
import type { OnnxNode } from "../../formats/onnx.ts";
import { numberAttr, numbersAttr, stringAttr } from "./attributes.ts";
import { type Activation, fusableActivation } from "./ops_elementwise.ts";
import { type Inputs, nodeInputs, type OpCompiler, type ScheduleBuilder } from "./schedule.ts";
import {
  hostForLayout,
  type HostTensor,
  hostTensor,
  NHWC,
  permOf,
  type RuntimeValue,
  sameNumbers,
  shapeOf,
  toWeightData,
} from "./values.ts";

type ExplicitPadding = [[number, number], [number, number], [number, number], [number, number]];

/** Begin/end padding of each spatial axis, per ONNX `pads` or `auto_pad`. */
function spatialPads(
  b: ScheduleBuilder,
  node: OnnxNode,
  sizes: number[],
  kernel: number[],
  strides: number[],
  dilations: number[],
): [number, number][] {
  const autoPad = stringAttr(b, node, "auto_pad", "NOTSET");
  if (autoPad === "SAME_UPPER" || autoPad === "SAME_LOWER") {
    return sizes.map((size, d) => {
      const out = Math.ceil(size / strides[d]);
      const total = Math.max(0, (out - 1) * strides[d] + (kernel[d] - 1) * dilations[d] + 1 - size);
      const small = Math.floor(total / 2);
      return autoPad === "SAME_UPPER" ? [small, total - small] : [total - small, small];
    });
  }
  if (autoPad === "VALID") return sizes.map(() => [0, 0]);
  if (autoPad !== "NOTSET") b.fail(node, `auto_pad '${autoPad}' is not supported`);
  const pads = numbersAttr(b, node, "pads") ?? new Array(2 * sizes.length).fill(0);
  if (pads.length !== 2 * sizes.length || pads.some((p) => p < 0)) {
    b.fail(node, `pads [${pads}] should be ${2 * sizes.length} non-negative numbers`);
  }
  return sizes.map((_, d) => [pads[d], pads[d + sizes.length]]);
}

function pair(
  b: ScheduleBuilder,
  node: OnnxNode,
  name: string,
  fallback: number,
): [number, number] {
  const values = numbersAttr(b, node, name) ?? [fallback, fallback];
  if (values.length !== 2) b.fail(node, `${name} [${values}] should have 2 values (2-D only)`);
  return [values[0], values[1]];
}

/** The NHWC 4-D input of a spatial operator. */
function spatialInput(b: ScheduleBuilder, node: OnnxNode, inputs: Inputs): RuntimeValue {
  const x = b.input(node, inputs, 0);
  if (shapeOf(x).length !== 4) {
    b.fail(node, `only 2-D (NCHW) inputs are supported, got shape [${shapeOf(x)}]`);
  }
  return b.inLayout(x, NHWC);
}

/** A BatchNormalization's per-channel `scale`, `shift`: bn(x) = x·scale + shift. */
function batchNormAffine(
  b: ScheduleBuilder,
  node: OnnxNode,
  inputs: Inputs,
): { scale: Float32Array; shift: Float32Array } {
  if (numberAttr(b, node, "training_mode", 0) !== 0) b.fail(node, "training_mode is not supported");
  const [gamma, beta, mean, variance] = [1, 2, 3, 4].map((i) =>
    b.hostInput(node, inputs, i, ["scale", "bias", "mean", "variance"][i - 1]).data
  );
  const epsilon = numberAttr(b, node, "epsilon", 1e-5);
  const channels = gamma.length;
  if ([beta, mean, variance].some((p) => p.length !== channels)) {
    b.fail(node, "scale, bias, mean and variance differ in length");
  }
  const scale = new Float32Array(channels);
  const shift = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    scale[c] = gamma[c] / Math.sqrt(variance[c] + epsilon);
    shift[c] = beta[c] - mean[c] * scale[c];
  }
  return { scale, shift };
}

/** An OIHW conv kernel and bias with a BatchNorm folded in: w'[o] = w[o]·scale[o], b' = b·scale + shift. */
function foldIntoConv(
  weight: HostTensor,
  bias: ArrayLike<number> | undefined,
  batchNorm: { scale: Float32Array; shift: Float32Array } | undefined,
): { kernel: Float32Array; bias: Float32Array } {
  const outChannels = weight.shape[0];
  const perOutput = weight.data.length / outChannels;
  const kernel = toWeightData(weight).data;
  return {
    kernel: batchNorm
      ? kernel.map((v, i) => v * batchNorm.scale[Math.floor(i / perOutput)])
      : kernel,
    bias: Float32Array.from(
      { length: outChannels },
      (_, o) => (bias?.[o] ?? 0) * (batchNorm?.scale[o] ?? 1) + (batchNorm?.shift[o] ?? 0),
    ),
  };
}

/** Conv → BatchNormalization → activation, with BN folded into the weights once. */
export const compileConv: OpCompiler = (b, node, inputs) => {
  const x = spatialInput(b, node, inputs);
  const weight = b.hostInput(node, inputs, 1, "weight");
  if (weight.shape.length !== 4) {
    b.fail(node, `only 2-D convolutions are supported (weight shape [${weight.shape}])`);
  }
  const [n, channels, height, width] = x.shape;
  const [outChannels, groupChannels, kh, kw] = weight.shape;
  const group = numberAttr(b, node, "group", 1);
  if (channels !== groupChannels * group || outChannels % group !== 0) {
    b.fail(
      node,
      `weight [${weight.shape}] with group ${group} does not fit ${channels} input channels`,
    );
  }
  const kernelShape = numbersAttr(b, node, "kernel_shape");
  if (kernelShape && !sameNumbers(kernelShape, [kh, kw])) {
    b.fail(node, `kernel_shape [${kernelShape}] does not match the weight [${weight.shape}]`);
  }
  const strides = pair(b, node, "strides", 1);
  const dilations = pair(b, node, "dilations", 1);
  const pads = spatialPads(b, node, [height, width], [kh, kw], strides, dilations);
  const spans = [kh, kw].map((k, d) => (k - 1) * dilations[d] + 1);
  const out = [height, width].map((size, d) =>
    Math.floor((size + pads[d][0] + pads[d][1] - spans[d]) / strides[d]) + 1
  );
  if (out.some((o) => o < 1)) b.fail(node, `input ${height}×${width} is smaller than the kernel`);

  const convBias = inputs[2] ? b.hostInput(node, inputs, 2, "bias").data : undefined;
  if (convBias && convBias.length !== outChannels) {
    b.fail(node, `bias has ${convBias.length} values, not ${outChannels}`);
  }
  const fused: OnnxNode[] = [];
  let tail = node.outputs[0];
  let batchNorm: { scale: Float32Array; shift: Float32Array } | undefined;
  const bnNode = b.soleConsumer(tail);
  if (bnNode?.opType === "BatchNormalization" && bnNode.inputs[0] === tail) {
    const bnInputs = nodeInputs(b, bnNode);
    if (bnInputs.slice(1, 5).every((v) => v?.kind === "host")) {
      batchNorm = batchNormAffine(b, bnNode, bnInputs);
      if (batchNorm.scale.length !== outChannels) {
        b.fail(bnNode, "channel count differs from the conv");
      }
      fused.push(bnNode);
      tail = bnNode.outputs[0];
    }
  }
  // Folded on the first upload only: later compilations (other input shapes) hit the cache.
  let folded: { kernel: Float32Array; bias: Float32Array } | undefined;
  const foldedWeights = () => folded ??= foldIntoConv(weight, convBias, batchNorm);
  const activation = fusableActivation(b, tail);
  if (activation) fused.push(activation.node);

  const depthwise = group > 1 && group === channels && groupChannels === 1;
  const variant = `conv:${[node, ...fused].map((f) => f.outputs[0])}`;
  const perGroup = depthwise ? 1 : group;
  const outPerGroup = outChannels / perGroup;
  const filters = Array.from(
    { length: perGroup },
    (_, g) =>
      b.graph.weights.get(weight, `${variant}:filter${g}`, () => {
        const rows = outPerGroup * groupChannels * kh * kw;
        const hwio = oihwToHwio({
          shape: [outPerGroup, groupChannels, kh, kw],
          data: foldedWeights().kernel.subarray(g * rows, (g + 1) * rows),
        });
        // Depthwise output channel c·m + k reads input channel c: HWIO [kh, kw, 1, C·m] is
        // already tfjs's depthwise [kh, kw, C, m] in memory.
        const shape = depthwise ? [kh, kw, channels, outChannels / channels] : hwio.shape;
        return tf.tensor4d(hwio.data, shape as [number, number, number, number]);
      }),
  );
  const biases = Array.from(
    { length: perGroup },
    (_, g) =>
      b.graph.weights.get(
        weight,
        `${variant}:bias${g}`,
        () => tf.tensor1d(foldedWeights().bias.subarray(g * outPerGroup, (g + 1) * outPerGroup)),
      ),
  );

  // tfjs refuses strides and dilations > 1 together: convolve at stride 1, then subsample.
  const subsample = dilations.some((d) => d > 1) && strides.some((s) => s > 1);
  const convStrides: [number, number] = subsample ? [1, 1] : strides;
  const pad: ExplicitPadding = [[0, 0], pads[0], pads[1], [0, 0]];
  const fusedName: Activation | "linear" = activation?.activation ?? "linear";
  const convolve = (input: Tensor4D, g: number): Tensor4D => {
    const args = {
      x: input,
      filter: filters[g],
      strides: convStrides,
      dilations,
      bias: biases[g],
      activation: fusedName,
      leakyreluAlpha: activation?.alpha,
    };
    // fused.depthwiseConv2d's type omits explicit padding, but its conv info accepts it.
    return depthwise
      ? tf.fused.depthwiseConv2d({ ...args, pad: pad as unknown as "valid" })
      : tf.fused.conv2d({ ...args, pad });
  };
  const result = b.emit(
    [x],
    [n, outChannels, out[0], out[1]],
    { kind: "perm", perm: NHWC },
    ([t]) => {
      const input = t as Tensor4D;
      const y = perGroup === 1 ? convolve(input, 0) : tf.concat(
        tf.split(input, perGroup, 3).map((part, g) => convolve(part as Tensor4D, g)),
        3,
      );
      return subsample
        ? tf.stridedSlice(y, [0, 0, 0, 0], y.shape, [1, strides[0], strides[1], 1])
        : y;
    },
  );
  b.absorb(fused, result);
  return result;
};

/** Output size and padding of each pooled axis; `extra` pads the end for ceil_mode. */
function poolAxes(
  b: ScheduleBuilder,
  node: OnnxNode,
  sizes: number[],
  kernel: number[],
  strides: number[],
): { pads: [number, number][]; extra: number[]; out: number[] } {
  const dilations = pair(b, node, "dilations", 1);
  if (dilations.some((d) => d !== 1)) b.fail(node, `dilations [${dilations}] are not supported`);
  const pads = spatialPads(b, node, sizes, kernel, strides, dilations);
  const ceil = numberAttr(b, node, "ceil_mode", 0) === 1;
  const out = sizes.map((size, d) => {
    const span = size + pads[d][0] + pads[d][1] - kernel[d];
    let count = (ceil ? Math.ceil(span / strides[d]) : Math.floor(span / strides[d])) + 1;
    // As in ONNX and PyTorch, the last window must start inside the input or its begin pad.
    if (ceil && (count - 1) * strides[d] >= size + pads[d][0]) count--;
    return count;
  });
  if (out.some((o) => o < 1)) b.fail(node, `input ${sizes.join("×")} is smaller than the window`);
  const extra = sizes.map((size, d) =>
    Math.max(0, (out[d] - 1) * strides[d] + kernel[d] - (size + pads[d][0] + pads[d][1]))
  );
  return { pads, extra, out };
}

/** A pool's NHWC input, window and geometry. */
function poolInput(
  b: ScheduleBuilder,
  node: OnnxNode,
  inputs: Inputs,
): {
  x: RuntimeValue;
  kernel: [number, number];
  strides: [number, number];
  pads: [number, number][];
  extra: number[];
  out: number[];
} {
  const x = spatialInput(b, node, inputs);
  const kernel = numbersAttr(b, node, "kernel_shape");
  if (!kernel || kernel.length !== 2) b.fail(node, "kernel_shape should have 2 values (2-D only)");
  const strides = pair(b, node, "strides", 1);
  const sizes = [x.shape[2], x.shape[3]];
  return {
    x,
    kernel: kernel as [number, number],
    strides,
    ...poolAxes(b, node, sizes, kernel, strides),
  };
}

/** MaxPool with explicit padding, which never wins a max. */
export const compileMaxPool: OpCompiler = (b, node, inputs) => {
  const { x, kernel, strides, pads, extra, out } = poolInput(b, node, inputs);
  const pad: ExplicitPadding = [
    [0, 0],
    [pads[0][0], pads[0][1] + extra[0]],
    [pads[1][0], pads[1][1] + extra[1]],
    [0, 0],
  ];
  // Pool padding never wins a max: the kernels skip padded positions.
  return b.emit(
    [x],
    [x.shape[0], x.shape[1], out[0], out[1]],
    x.layout,
    ([t]) => tf.maxPool(t as Tensor4D, kernel, strides, pad),
  );
};

/**
 * AveragePool as zero padding + a 'valid' average, rescaled by k²/count where the window
 * holds fewer counted elements: pads are counted with count_include_pad=1, never the
 * ceil_mode overhang.
 */
export const compileAveragePool: OpCompiler = (b, node, inputs) => {
  const { x, kernel, strides, pads, extra, out } = poolInput(b, node, inputs);
  const includePad = numberAttr(b, node, "count_include_pad", 0) === 1;
  const sizes = [x.shape[2], x.shape[3]];
  const counts = sizes.map((size, d) => {
    const [low, high] = includePad ? [-pads[d][0], size + pads[d][1]] : [0, size];
    return Array.from({ length: out[d] }, (_, i) => {
      const start = i * strides[d] - pads[d][0];
      return Math.min(start + kernel[d], high) - Math.max(start, low);
    });
  });
  const window = kernel[0] * kernel[1];
  const factors = new Float32Array(out[0] * out[1]);
  for (let i = 0; i < out[0]; i++) {
    for (let j = 0; j < out[1]; j++) {
      factors[i * out[1] + j] = window / (counts[0][i] * counts[1][j]);
    }
  }
  const factorShape: [number, number, number, number] = [1, out[0], out[1], 1];
  const rescale = factors.some((f) => f !== 1)
    ? b.graph.weights.get(
      hostTensor(factorShape, factors),
      "rescale",
      () => tf.tensor4d(factors, factorShape),
    )
    : undefined;
  const paddings: [number, number][] = [
    [0, 0],
    [pads[0][0], pads[0][1] + extra[0]],
    [pads[1][0], pads[1][1] + extra[1]],
    [0, 0],
  ];
  const padded = paddings.some(([p, q]) => p + q > 0);
  return b.emit([x], [x.shape[0], x.shape[1], out[0], out[1]], x.layout, ([t]) => {
    const input = (padded ? tf.pad(t, paddings) : t) as Tensor4D;
    const mean = tf.avgPool(input, kernel, strides, "valid");
    return rescale ? tf.mul(mean, rescale) : mean;
  });
};

/** A global pool over H and W, by `reduce` over the NHWC axes 1 and 2. */
export function globalPool(reduce: (x: Tensor) => Tensor): OpCompiler {
  return (b, node, inputs) => {
    const x = spatialInput(b, node, inputs);
    return b.emit([x], [x.shape[0], x.shape[1], 1, 1], x.layout, ([t]) => reduce(t));
  };
}

/** A BatchNormalization no Conv absorbed: x·scale + shift per channel, in the input's layout. */
export const compileBatchNorm: OpCompiler = (b, node, inputs) => {
  const { scale, shift } = batchNormAffine(b, node, inputs);
  const value = b.permuted(b.input(node, inputs, 0));
  const rank = value.shape.length;
  const perm = permOf(value);
  if (rank < 2 || value.shape[1] !== scale.length) {
    b.fail(node, `${scale.length} channels do not fit the input [${value.shape}]`);
  }
  const channelShape = [1, scale.length, ...new Array(rank - 2).fill(1)];
  const source = b.hostInput(node, inputs, 1, "scale");
  const constant = (data: Float32Array, name: string) =>
    b.graph.weights.get(source, `bn-${name}:${node.outputs[0]}:${perm}`, () => {
      const t = hostForLayout(hostTensor(channelShape, data), rank, perm);
      return tf.tensor(t.data, t.shape);
    });
  const [s, t] = [constant(scale, "scale"), constant(shift, "shift")];
  return b.emit([value], value.shape, value.layout, ([v]) => tf.add(tf.mul(v, s), t));
};
