/**
 * A generic runner for ONNX CNNs built from common operators, on TensorFlow.js.
 *
 * **Compilation.** The graph is compiled into a flat list of tfjs steps for one concrete input
 * shape. Shape subgraphs (Shape, Gather, Unsqueeze, Concat, Cast, Slice, ConstantOfShape,
 * Range and arithmetic on constants) are evaluated on the host while compiling, so the steps
 * only contain tensor work. A model whose input shape is static is compiled once by
 * {@link loadOnnxGraph}; one with symbolic dimensions (`dim_param`) is compiled on each new
 * input shape and the plan is cached per shape. Unsupported operators are reported at load
 * time, whatever the input shape.
 *
 * **Layout.** wasm convolutions are NHWC-only, so a 4-D input is transposed to NHWC once at
 * the entry and convolutions, pools and BatchNorm stay NHWC; their weights are converted once
 * (`convert/layout.ts`: OIHW → HWIO, depthwise `[kh, kw, C, multiplier]`). Every runtime tensor
 * carries its layout — the permutation from its ONNX axes to its stored axes — and axis
 * arguments (Concat, Softmax, Slice, Squeeze, Pad, ReduceMean, Gather, Transpose) are remapped
 * through it; constants are permuted on the host to broadcast against NHWC tensors.
 *
 * **Flatten after NHWC.** A Flatten, or a Reshape to `[N, C·H·W]`, of a spatial NHWC tensor
 * yields features in H,W,C order instead of ONNX's C,H,W. The runner keeps that order and, when
 * the consumer is a Gemm or MatMul with a constant weight, permutes the weight's rows once
 * (`chwRowsToHwc`); any other consumer gets the tensor transposed back to C,H,W order first.
 * So the common classifier costs nothing extra and every other use stays correct.
 *
 * A Conv followed by a BatchNormalization (its only consumer) has the BN folded into its
 * weights, and a following Relu, Clip(0, 6), LeakyRelu or Sigmoid runs fused in
 * `tf.fused.conv2d`. Conv padding is always explicit (`[[0,0],[t,b],[l,r],[0,0]]`).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { readOnnx } from "../formats/onnx.ts";
 * import { loadOnnxGraph } from "./onnx_graph.ts";
 * const file = "testdata/fixtures/nets/tv_basic.onnx";
 * const graph = loadOnnxGraph(readOnnx(await Deno.readFile(file), file), file);
 * const logits = graph.predict(tf.zeros([2, 3, 64, 64]));
 * console.log(logits.shape); // [2, 10]
 * graph.dispose();
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import type { Tensor, Tensor2D, Tensor4D } from "../runtime/tensor.ts";
import type { Weight } from "../arch/weights.ts";
import { chwRowsToHwc, linearToDense, oihwToHwio } from "../convert/layout.ts";
import type { OnnxAttribute, OnnxModel, OnnxNode } from "../formats/onnx.ts";
import type { NamedTensor } from "../formats/tensor.ts";
import { ZooFormatError } from "../arch/errors.ts";

/**
 * A loaded ONNX graph, ready to run.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { readOnnx } from "../formats/onnx.ts";
 * const file = "testdata/fixtures/onnx_ops/view_op9.onnx";
 * const graph: OnnxGraphModel = loadOnnxGraph(readOnnx(await Deno.readFile(file), file), file);
 * console.log(graph.inputShape); // ["batch", 3, 16, 16]
 * const y = graph.predict(tf.zeros([3, 3, 16, 16])); // NCHW in, [3, 10] out
 * graph.dispose();
 * ```
 */
export interface OnnxGraphModel {
  /** The name of the graph input. */
  inputName: string;
  /** The input shape as declared: numbers, `dim_param` names, or `"?"` (NCHW for torch exports). */
  inputShape: (number | string)[];
  /**
   * Runs the graph. `x` is in the model's declared layout (NCHW for 4-D inputs) — transposed
   * once to NHWC at the entry. Returns the first graph output in ONNX layout.
   */
  predict(x: Tensor): Tensor;
  /** Frees the uploaded weights. */
  dispose(): void;
}

// ---------------------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------------------

/** A constant known while compiling: integers (shapes, indices) in float64, floats in float32. */
interface HostTensor {
  shape: number[];
  data: Float32Array | Float64Array;
  integer: boolean;
}

/** How a runtime tensor's storage relates to its ONNX shape. */
type Layout =
  /** storage = transpose(onnx, perm): stored axis i holds ONNX axis perm[i]. */
  | { kind: "perm"; perm: number[] }
  /** A 2-D `[N, C·H·W]` ONNX tensor whose features are stored in H,W,C order (an NHWC flatten). */
  | { kind: "hwcFeatures"; channels: number; height: number; width: number };

interface RuntimeValue {
  kind: "runtime";
  /** Where the tensor lives while the plan runs. */
  slot: number;
  /** The ONNX shape. */
  shape: number[];
  layout: Layout;
}

type Value = { kind: "host"; tensor: HostTensor } | RuntimeValue;

const NHWC: number[] = [0, 2, 3, 1];

function identity(rank: number): number[] {
  return Array.from({ length: rank }, (_, i) => i);
}

function sameNumbers(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function product(values: readonly number[]): number {
  return values.reduce((a, b) => a * b, 1);
}

function rowStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  for (let d = shape.length - 1, s = 1; d >= 0; d--) {
    strides[d] = s;
    s *= shape[d];
  }
  return strides;
}

function shapeOf(value: Value): number[] {
  return value.kind === "host" ? value.tensor.shape : value.shape;
}

function storedDims(shape: number[], layout: Layout): number[] {
  return layout.kind === "perm" ? layout.perm.map((a) => shape[a]) : shape;
}

function storedShape(value: RuntimeValue): number[] {
  return storedDims(value.shape, value.layout);
}

/** The permutation of a value known to have a `perm` layout. */
function permOf(value: RuntimeValue): number[] {
  if (value.layout.kind !== "perm") throw new Error("internal: expected a permuted layout");
  return value.layout.perm;
}

/** Identifies a value's storage: one slot may hold several views (see compileTranspose). */
function viewKey(value: RuntimeValue): string {
  return `${value.slot}|${value.shape}|${JSON.stringify(value.layout)}`;
}

/** Whether permuting axes by `perm` keeps the element order, because it only moves size-1 axes. */
function onlyMovesUnitAxes(perm: readonly number[], shape: readonly number[]): boolean {
  const moved = perm.filter((a) => shape[a] !== 1);
  return moved.every((a, i) => i === 0 || a > moved[i - 1]);
}

/** The layout left after removing some ONNX axes (squeezed or reduced) from a permuted tensor. */
function withoutAxes(perm: readonly number[], removed: readonly number[]): number[] {
  const kept = perm.filter((a) => !removed.includes(a));
  const order = [...kept].sort((a, b) => a - b);
  return kept.map((a) => order.indexOf(a));
}

function hostTensor(shape: number[], data: Float32Array | Float64Array): HostTensor {
  return { shape, data, integer: data instanceof Float64Array };
}

function newData(integer: boolean, length: number): Float32Array | Float64Array {
  return integer ? new Float64Array(length) : new Float32Array(length);
}

function fromNamedTensor(t: NamedTensor): HostTensor {
  if (t.data instanceof Float32Array) return { shape: [...t.shape], data: t.data, integer: false };
  const data = Float64Array.from(t.data as ArrayLike<number | bigint>, Number);
  return { shape: [...t.shape], data, integer: true };
}

function toWeightData(t: HostTensor): Weight {
  const data = t.data instanceof Float32Array ? t.data : Float32Array.from(t.data);
  return { shape: [...t.shape], data };
}

/**
 * Reads `data` through a strided view: the result's element at multi-index i is
 * `data[offset + Σ i[d]·strides[d]]`. Transposes, slices (any step sign) and broadcasts are
 * all such views of small host tensors.
 */
function stridedView(
  t: HostTensor,
  shape: number[],
  strides: number[],
  offset: number,
): HostTensor {
  const data = newData(t.integer, product(shape));
  const index = new Array<number>(shape.length).fill(0);
  for (let o = 0; o < data.length; o++) {
    let source = offset;
    for (let d = 0; d < shape.length; d++) source += index[d] * strides[d];
    data[o] = t.data[source];
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++index[d] < shape[d]) break;
      index[d] = 0;
    }
  }
  return { shape, data, integer: t.integer };
}

function hostTranspose(t: HostTensor, perm: number[]): HostTensor {
  const strides = rowStrides(t.shape);
  return stridedView(t, perm.map((p) => t.shape[p]), perm.map((p) => strides[p]), 0);
}

/** `t` broadcast to `shape` (numpy rules, right-aligned). */
function hostBroadcast(t: HostTensor, shape: number[]): HostTensor {
  const offset = shape.length - t.shape.length;
  const strides = rowStrides(t.shape);
  return stridedView(
    t,
    shape,
    shape.map((_, d) => (d < offset || t.shape[d - offset] === 1 ? 0 : strides[d - offset])),
    0,
  );
}

/** A constant aligned to broadcast against a rank-`rank` tensor stored with `perm`. */
function hostForLayout(t: HostTensor, rank: number, perm: number[]): HostTensor {
  const aligned = { ...t, shape: [...new Array(rank - t.shape.length).fill(1), ...t.shape] };
  return sameNumbers(perm, identity(rank)) ? aligned : hostTranspose(aligned, perm);
}

// ---------------------------------------------------------------------------------------
// The compiled plan
// ---------------------------------------------------------------------------------------

interface Step {
  inputs: number[];
  output: number;
  run(inputs: Tensor[]): Tensor;
}

interface Plan {
  steps: Step[];
  slotCount: number;
  inputSlot: number;
  outputSlot: number;
  constants: [number, Tensor][];
  /** Slots whose last reader is step i, freed right after it. */
  release: number[][];
}

/** Uploads each host constant once per variant (layout, folding), for the model's lifetime. */
class WeightCache {
  readonly #byTensor = new WeakMap<HostTensor, Map<string, Tensor>>();
  readonly #all: Tensor[] = [];

  get<T extends Tensor>(source: HostTensor, variant: string, make: () => T): T {
    let variants = this.#byTensor.get(source);
    if (!variants) this.#byTensor.set(source, variants = new Map());
    let tensor = variants.get(variant);
    if (!tensor) {
      tensor = tf.keep(make());
      variants.set(variant, tensor);
      this.#all.push(tensor);
    }
    return tensor as T;
  }

  dispose(): void {
    for (const tensor of this.#all) tensor.dispose();
    this.#all.length = 0;
  }
}

/** What every compilation of one model shares. */
interface LoadedGraph {
  file: string;
  opset: number;
  nodes: OnnxNode[];
  inputName: string;
  outputName: string;
  /** Initializers and Constant node outputs. */
  constants: Map<string, HostTensor>;
  consumers: Map<string, OnnxNode[]>;
  graphOutputs: Set<string>;
  weights: WeightCache;
}

function nodeLabel(node: OnnxNode): string {
  return `node '${node.name || node.outputs[0]}' (${node.opType}`;
}

/** Builds a {@link Plan} for one input shape, node by node. */
class PlanBuilder {
  readonly steps: Step[] = [];
  readonly values: Map<string, Value> = new Map();
  readonly absorbed: Set<OnnxNode> = new Set();
  readonly #constants: [number, Tensor][] = [];
  readonly #constantSlots = new Map<Tensor, number>();
  readonly #relayouts = new Map<string, RuntimeValue>();
  #slotCount = 0;

  constructor(readonly graph: LoadedGraph) {}

  fail(node: OnnxNode, message: string): never {
    throw new ZooFormatError(
      this.graph.file,
      `${nodeLabel(node)}, opset ${this.graph.opset}): ${message}`,
    );
  }

  newSlot(): number {
    return this.#slotCount++;
  }

  emit(
    inputs: RuntimeValue[],
    shape: number[],
    layout: Layout,
    run: (xs: Tensor[]) => Tensor,
  ): RuntimeValue {
    const slot = this.newSlot();
    this.steps.push({ inputs: inputs.map((v) => v.slot), output: slot, run });
    return { kind: "runtime", slot, shape, layout };
  }

  /** A slot holding an uploaded constant. */
  constantValue(tensor: Tensor, shape: number[], layout: Layout): RuntimeValue {
    let slot = this.#constantSlots.get(tensor);
    if (slot === undefined) {
      slot = this.newSlot();
      this.#constantSlots.set(tensor, slot);
      this.#constants.push([slot, tensor]);
    }
    return { kind: "runtime", slot, shape, layout };
  }

  upload(t: HostTensor, rank: number, perm: number[]): Tensor {
    return this.graph.weights.get(t, `broadcast:${rank}:${perm}`, () => {
      const aligned = hostForLayout(t, rank, perm);
      return tf.tensor(Float32Array.from(aligned.data), aligned.shape, "float32");
    });
  }

  /** The value as a runtime tensor; constants are uploaded in ONNX order. */
  runtime(value: Value): RuntimeValue {
    if (value.kind === "runtime") return value;
    const rank = value.tensor.shape.length;
    return this.constantValue(this.upload(value.tensor, rank, identity(rank)), value.tensor.shape, {
      kind: "perm",
      perm: identity(rank),
    });
  }

  /** The value stored with `perm`, transposing (once per value and layout) when needed. */
  inLayout(value: Value, perm: number[]): RuntimeValue {
    if (value.kind === "host") {
      const t = value.tensor;
      return this.constantValue(this.upload(t, t.shape.length, perm), t.shape, {
        kind: "perm",
        perm: [...perm],
      });
    }
    const source = value.layout.kind === "hwcFeatures" ? this.#hwcToChw(value) : value;
    const current = permOf(source);
    if (sameNumbers(current, perm)) return source;
    const key = `${viewKey(source)}>${perm}`;
    const cached = this.#relayouts.get(key);
    if (cached) return cached;
    const axes = perm.map((a) => current.indexOf(a));
    const outStored = perm.map((a) => source.shape[a]);
    const result = this.emit(
      [source],
      source.shape,
      { kind: "perm", perm: [...perm] },
      onlyMovesUnitAxes(axes, storedShape(source))
        ? ([x]) => tf.reshape(x, outStored)
        : ([x]) => tf.transpose(x, axes),
    );
    this.#relayouts.set(key, result);
    this.#relayouts.set(`${viewKey(result)}>${current}`, source);
    return result;
  }

  /** The value in ONNX axis order. */
  onnxOrder(value: Value): RuntimeValue {
    return this.inLayout(value, identity(shapeOf(value).length));
  }

  /** The value, with a `perm` layout: as it is, or in ONNX order. */
  permuted(value: Value): RuntimeValue {
    return value.kind === "runtime" && value.layout.kind === "perm" ? value : this.onnxOrder(value);
  }

  #hwcToChw(value: RuntimeValue): RuntimeValue {
    const key = viewKey(value);
    const cached = this.#relayouts.get(key);
    if (cached) return cached;
    const { channels, height, width } = value.layout as Extract<Layout, { kind: "hwcFeatures" }>;
    const n = value.shape[0];
    const result = this.emit(
      [value],
      value.shape,
      { kind: "perm", perm: [0, 1] },
      ([x]) =>
        tf.reshape(
          tf.transpose(tf.reshape(x, [n, height, width, channels]), [0, 3, 1, 2]),
          value.shape,
        ),
    );
    this.#relayouts.set(key, result);
    return result;
  }

  /** The node that alone reads `name`, when `name` is not also a graph output. */
  soleConsumer(name: string): OnnxNode | undefined {
    const readers = this.graph.consumers.get(name) ?? [];
    return readers.length === 1 && !this.graph.graphOutputs.has(name) ? readers[0] : undefined;
  }

  /** Marks nodes whose work another node's step does (fusion) and gives them its value. */
  absorb(nodes: OnnxNode[], value: Value): void {
    for (const node of nodes) {
      this.absorbed.add(node);
      this.values.set(node.outputs[0], value);
    }
  }

  /** A required input. */
  input(node: OnnxNode, inputs: (Value | undefined)[], index: number): Value {
    const value = inputs[index];
    if (!value) this.fail(node, `input #${index} is missing`);
    return value;
  }

  /** An input that must be a constant (initializer, Constant or folded shape computation). */
  hostInput(
    node: OnnxNode,
    inputs: (Value | undefined)[],
    index: number,
    what: string,
  ): HostTensor {
    const value = this.input(node, inputs, index);
    if (value.kind !== "host") {
      this.fail(node, `${what} (input '${node.inputs[index]}') must be a constant, not computed`);
    }
    return value.tensor;
  }

  finish(result: Value, inputSlot: number): Plan {
    let output = this.onnxOrder(result);
    if (output.slot === inputSlot || this.#constants.some(([slot]) => slot === output.slot)) {
      output = this.emit([output], output.shape, output.layout, ([x]) => x.clone());
    }
    // Keep only the steps the output depends on.
    const needed = new Set([output.slot]);
    const steps = this.steps.toReversed().filter((step) => {
      if (!needed.has(step.output)) return false;
      step.inputs.forEach((slot) => needed.add(slot));
      return true;
    }).reverse();
    const persistent = new Set([inputSlot, output.slot, ...this.#constants.map(([s]) => s)]);
    const lastUse = new Map<number, number>();
    steps.forEach((step, i) => step.inputs.forEach((slot) => lastUse.set(slot, i)));
    const release = steps.map(() => [] as number[]);
    for (const [slot, i] of lastUse) if (!persistent.has(slot)) release[i].push(slot);
    return {
      steps,
      slotCount: this.#slotCount,
      inputSlot,
      outputSlot: output.slot,
      constants: this.#constants.filter(([slot]) => needed.has(slot)),
      release,
    };
  }
}

// ---------------------------------------------------------------------------------------
// Attributes
// ---------------------------------------------------------------------------------------

function attributeOf(
  b: PlanBuilder,
  node: OnnxNode,
  name: string,
  kind: "number" | "numbers" | "string",
): OnnxAttribute | undefined {
  const value = node.attributes[name];
  if (value === undefined) return undefined;
  const ok = kind === "number"
    ? typeof value === "number"
    : kind === "string"
    ? typeof value === "string"
    : Array.isArray(value) && value.every((v) => typeof v === "number");
  if (!ok) {
    b.fail(node, `attribute '${name}' should be ${kind === "numbers" ? "a list" : `a ${kind}`}`);
  }
  return value;
}

function numberAttr(b: PlanBuilder, node: OnnxNode, name: string, fallback: number): number {
  return (attributeOf(b, node, name, "number") as number | undefined) ?? fallback;
}

function numbersAttr(b: PlanBuilder, node: OnnxNode, name: string): number[] | undefined {
  return attributeOf(b, node, name, "numbers") as number[] | undefined;
}

function stringAttr(b: PlanBuilder, node: OnnxNode, name: string, fallback: string): string {
  return (attributeOf(b, node, name, "string") as string | undefined) ?? fallback;
}

/** Integers given as an attribute (older opsets) or as a constant input (newer ones). */
function intsFromAttrOrInput(
  b: PlanBuilder,
  node: OnnxNode,
  inputs: (Value | undefined)[],
  attr: string,
  index: number,
): number[] | undefined {
  if (inputs[index]) return Array.from(b.hostInput(node, inputs, index, attr).data);
  return numbersAttr(b, node, attr);
}

function normalizeAxis(b: PlanBuilder, node: OnnxNode, axis: number, rank: number): number {
  if (axis < -rank || axis >= rank) b.fail(node, `axis ${axis} is out of range for rank ${rank}`);
  return axis < 0 ? axis + rank : axis;
}

function scalarOf(b: PlanBuilder, node: OnnxNode, t: HostTensor, what: string): number {
  if (t.data.length !== 1) b.fail(node, `${what} should be a scalar, got shape [${t.shape}]`);
  return t.data[0];
}

// ---------------------------------------------------------------------------------------
// Operators
// ---------------------------------------------------------------------------------------

type Inputs = (Value | undefined)[];
type OpCompiler = (b: PlanBuilder, node: OnnxNode, inputs: Inputs) => Value;
type Activation = "relu" | "relu6" | "leakyrelu" | "sigmoid";
type ExplicitPadding = [[number, number], [number, number], [number, number], [number, number]];

/** Begin/end padding of each spatial axis, per ONNX `pads` or `auto_pad`. */
function spatialPads(
  b: PlanBuilder,
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

function pair(b: PlanBuilder, node: OnnxNode, name: string, fallback: number): [number, number] {
  const values = numbersAttr(b, node, name) ?? [fallback, fallback];
  if (values.length !== 2) b.fail(node, `${name} [${values}] should have 2 values (2-D only)`);
  return [values[0], values[1]];
}

/** The NHWC 4-D input of a spatial operator. */
function spatialInput(b: PlanBuilder, node: OnnxNode, inputs: Inputs): RuntimeValue {
  const x = b.input(node, inputs, 0);
  if (shapeOf(x).length !== 4) {
    b.fail(node, `only 2-D (NCHW) inputs are supported, got shape [${shapeOf(x)}]`);
  }
  return b.inLayout(x, NHWC);
}

function clipBounds(b: PlanBuilder, node: OnnxNode, inputs: Inputs): [number, number] {
  if (b.graph.opset < 11) {
    return [
      numberAttr(b, node, "min", -3.4028234663852886e38),
      numberAttr(b, node, "max", 3.4028234663852886e38),
    ];
  }
  const bound = (index: number, fallback: number) =>
    inputs[index]
      ? scalarOf(b, node, b.hostInput(node, inputs, index, "bound"), "bound")
      : fallback;
  return [bound(1, -3.4028234663852886e38), bound(2, 3.4028234663852886e38)];
}

/** A BatchNormalization's per-channel `scale`, `shift`: bn(x) = x·scale + shift. */
function batchNormAffine(
  b: PlanBuilder,
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

function nodeInputs(b: PlanBuilder, node: OnnxNode): Inputs {
  return node.inputs.map((name) => (name ? b.values.get(name) : undefined));
}

/** The activation after `name` that a fused conv can apply, if its only reader is one. */
function fusableActivation(
  b: PlanBuilder,
  name: string,
): { node: OnnxNode; activation: Activation; alpha: number } | undefined {
  const next = b.soleConsumer(name);
  if (!next || next.inputs[0] !== name) return undefined;
  switch (next.opType) {
    case "Relu":
      return { node: next, activation: "relu", alpha: 0 };
    case "Sigmoid":
      return { node: next, activation: "sigmoid", alpha: 0 };
    case "LeakyRelu":
      return { node: next, activation: "leakyrelu", alpha: numberAttr(b, next, "alpha", 0.01) };
    case "Clip": {
      const inputs = nodeInputs(b, next);
      if (inputs.slice(1).some((v) => v && v.kind !== "host")) return undefined;
      const [low, high] = clipBounds(b, next, inputs);
      return low === 0 && high === 6 ? { node: next, activation: "relu6", alpha: 0 } : undefined;
    }
  }
  return undefined;
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
const compileConv: OpCompiler = (b, node, inputs) => {
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
  b: PlanBuilder,
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
  b: PlanBuilder,
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

const compileMaxPool: OpCompiler = (b, node, inputs) => {
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
const compileAveragePool: OpCompiler = (b, node, inputs) => {
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

function globalPool(reduce: (x: Tensor) => Tensor): OpCompiler {
  return (b, node, inputs) => {
    const x = spatialInput(b, node, inputs);
    return b.emit([x], [x.shape[0], x.shape[1], 1, 1], x.layout, ([t]) => reduce(t));
  };
}

/** An elementwise unary operator that keeps its input's layout. */
function unary(
  make: (b: PlanBuilder, node: OnnxNode, inputs: Inputs) => (x: Tensor) => Tensor,
): OpCompiler {
  return (b, node, inputs) => {
    const x = b.runtime(b.input(node, inputs, 0));
    const apply = make(b, node, inputs);
    return b.emit([x], x.shape, x.layout, ([t]) => apply(t));
  };
}

function hardSigmoid(alpha: number, beta: number): (x: Tensor) => Tensor {
  return (x) => tf.clipByValue(tf.add(tf.mul(x, alpha), beta), 0, 1);
}

function broadcastShapes(b: PlanBuilder, node: OnnxNode, a: number[], c: number[]): number[] {
  const rank = Math.max(a.length, c.length);
  return Array.from({ length: rank }, (_, i) => {
    const x = a[a.length - rank + i] ?? 1;
    const y = c[c.length - rank + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) b.fail(node, `shapes [${a}] and [${c}] do not broadcast`);
    return x === 1 ? y : x;
  });
}

const HOST_ARITHMETIC: Record<string, (x: number, y: number, integer: boolean) => number> = {
  Add: (x, y) => x + y,
  Sub: (x, y) => x - y,
  Mul: (x, y) => x * y,
  Div: (x, y, integer) => (integer ? Math.trunc(x / y) : x / y),
};

const TF_ARITHMETIC: Record<string, (x: Tensor, y: Tensor) => Tensor> = {
  Add: tf.add,
  Sub: tf.sub,
  Mul: tf.mul,
  Div: tf.div,
};

/**
 * Add/Sub/Mul/Div with ONNX broadcasting. Both operands are brought to one layout: that of
 * a full-rank permuted operand (constants are permuted on the host, lower-rank tensors get
 * leading unit axes), or ONNX order.
 */
const compileArithmetic: OpCompiler = (b, node, inputs) => {
  const operands = [b.input(node, inputs, 0), b.input(node, inputs, 1)];
  const shape = broadcastShapes(b, node, shapeOf(operands[0]), shapeOf(operands[1]));
  if (operands[0].kind === "host" && operands[1].kind === "host") {
    const [x, y] = operands.map((v) => hostBroadcast((v as { tensor: HostTensor }).tensor, shape));
    const integer = x.integer && y.integer;
    const op = HOST_ARITHMETIC[node.opType];
    const data = newData(integer, product(shape));
    for (let i = 0; i < data.length; i++) data[i] = op(x.data[i], y.data[i], integer);
    return { kind: "host", tensor: { shape, data, integer } };
  }
  const runtimes = operands.filter((v): v is RuntimeValue => v.kind === "runtime");
  const features = runtimes[0].layout;
  const keepFeatures = features.kind === "hwcFeatures" && shape.length === 2 &&
    operands.every((v) =>
      v.kind === "host"
        ? (v.tensor.shape.at(-1) ?? 1) === 1
        : JSON.stringify(v.layout) === JSON.stringify(features)
    );
  const op = TF_ARITHMETIC[node.opType];
  if (keepFeatures) {
    return b.emit(operands.map((v) => b.runtime(v)), shape, features, ([x, y]) => op(x, y));
  }
  const rank = shape.length;
  const permuted = runtimes.find((v) =>
    v.layout.kind === "perm" && v.shape.length === rank &&
    !sameNumbers(v.layout.perm, identity(rank))
  );
  const perm = permuted ? permOf(permuted) : identity(rank);
  const aligned = operands.map((v) => broadcastOperand(b, v, rank, perm));
  return b.emit(aligned, shape, { kind: "perm", perm: [...perm] }, ([x, y]) => op(x, y));
};

/** An operand of a rank-`rank` broadcast, stored with `perm`. */
function broadcastOperand(b: PlanBuilder, v: Value, rank: number, perm: number[]): RuntimeValue {
  const expanded = [...new Array(rank - shapeOf(v).length).fill(1), ...shapeOf(v)];
  if (v.kind === "host") {
    return b.constantValue(b.upload(v.tensor, rank, perm), expanded, { kind: "perm", perm });
  }
  if (v.shape.length === rank) return b.inLayout(v, perm);
  const onnx = b.onnxOrder(v);
  // tfjs broadcasting right-aligns ranks by itself; only a permuted layout needs the unit axes.
  if (sameNumbers(perm, identity(rank))) return onnx;
  const reshaped = b.emit(
    [onnx],
    expanded,
    { kind: "perm", perm: identity(rank) },
    ([t]) => tf.reshape(t, expanded),
  );
  return b.inLayout(reshaped, perm);
}

const compileBatchNorm: OpCompiler = (b, node, inputs) => {
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

function concatHost(b: PlanBuilder, node: OnnxNode, parts: HostTensor[], axis: number): HostTensor {
  const shape = [...parts[0].shape];
  shape[axis] = parts.reduce((sum, p) => sum + p.shape[axis], 0);
  const integer = parts.every((p) => p.integer);
  const data = newData(integer, product(shape));
  const outer = product(shape.slice(0, axis));
  let offset = 0;
  for (let o = 0; o < outer; o++) {
    for (const p of parts) {
      if (p.shape.length !== shape.length) b.fail(node, "inputs differ in rank");
      const chunk = product(p.shape.slice(axis));
      data.set(p.data.subarray(o * chunk, (o + 1) * chunk), offset);
      offset += chunk;
    }
  }
  return { shape, data, integer };
}

const compileConcat: OpCompiler = (b, node, inputs) => {
  const parts = inputs.filter((v): v is Value => v !== undefined);
  const rank = shapeOf(parts[0]).length;
  const axis = normalizeAxis(b, node, numberAttr(b, node, "axis", 0), rank);
  for (const p of parts) {
    const s = shapeOf(p);
    if (s.length !== rank || s.some((d, i) => i !== axis && d !== shapeOf(parts[0])[i])) {
      b.fail(node, `input shapes [${shapeOf(parts[0])}] and [${s}] cannot be concatenated`);
    }
  }
  if (parts.every((p) => p.kind === "host")) {
    return { kind: "host", tensor: concatHost(b, node, parts.map((p) => p.tensor), axis) };
  }
  const first = parts.find((p): p is RuntimeValue => p.kind === "runtime")!;
  const perm = first.layout.kind === "perm" ? first.layout.perm : identity(rank);
  const values = parts.map((p) => b.inLayout(p, perm));
  const shape = [...shapeOf(parts[0])];
  shape[axis] = parts.reduce((sum, p) => sum + shapeOf(p)[axis], 0);
  const storedAxis = perm.indexOf(axis);
  return b.emit(
    values,
    shape,
    { kind: "perm", perm: [...perm] },
    (xs) => tf.concat(xs, storedAxis),
  );
};

/**
 * Reshape of a runtime tensor. Storage is reshaped directly when it already is in ONNX
 * element order; the NHWC flatten to `[N, C·H·W]` keeps H,W,C feature order (see the module
 * doc); anything else is transposed to ONNX order first.
 */
function reshapeValue(b: PlanBuilder, value: Value, shape: number[]): Value {
  if (value.kind === "host") return { kind: "host", tensor: { ...value.tensor, shape } };
  if (sameNumbers(shape, value.shape)) return value;
  const layout = value.layout;
  const onnxOrdered = layout.kind === "perm" && onlyMovesUnitAxes(layout.perm, value.shape);
  const plain: Layout = { kind: "perm", perm: identity(shape.length) };
  if (onnxOrdered) return b.emit([value], shape, plain, ([x]) => tf.reshape(x, shape));
  const [n, channels, height, width] = value.shape;
  if (
    layout.kind === "perm" && sameNumbers(layout.perm, NHWC) && shape.length === 2 && shape[0] === n
  ) {
    return b.emit(
      [value],
      shape,
      { kind: "hwcFeatures", channels, height, width },
      ([x]) => tf.reshape(x, shape),
    );
  }
  return b.emit([b.onnxOrder(value)], shape, plain, ([x]) => tf.reshape(x, shape));
}

const compileReshape: OpCompiler = (b, node, inputs) => {
  const x = b.input(node, inputs, 0);
  const target = Array.from(b.hostInput(node, inputs, 1, "shape").data);
  const inShape = shapeOf(x);
  const allowZero = numberAttr(b, node, "allowzero", 0) === 1;
  const shape = target.map((d, i) => (d === 0 && !allowZero ? inShape[i] : d));
  const known = product(shape.filter((d) => d !== -1));
  const total = product(inShape);
  const inferred = shape.filter((d) => d === -1).length;
  if (inferred > 1 || (inferred === 0 ? known !== total : total % known !== 0)) {
    b.fail(node, `cannot reshape [${inShape}] to [${target}]`);
  }
  return reshapeValue(b, x, shape.map((d) => (d === -1 ? total / known : d)));
};

const compileFlatten: OpCompiler = (b, node, inputs) => {
  const x = b.input(node, inputs, 0);
  const shape = shapeOf(x);
  const axis = numberAttr(b, node, "axis", 1);
  const split = axis < 0 ? axis + shape.length : axis;
  if (split < 0 || split > shape.length) b.fail(node, `axis ${axis} is out of range`);
  return reshapeValue(b, x, [product(shape.slice(0, split)), product(shape.slice(split))]);
};

/**
 * Transpose composed with the input's layout: when the result's storage (in ONNX order, or
 * NHWC for 4-D) is the input's storage as it is, no data moves.
 */
const compileTranspose: OpCompiler = (b, node, inputs) => {
  const x = b.input(node, inputs, 0);
  const rank = shapeOf(x).length;
  const perm = numbersAttr(b, node, "perm") ?? identity(rank).reverse();
  if (!sameNumbers([...perm].sort((p, q) => p - q), identity(rank))) {
    b.fail(node, `perm [${perm}] is not a permutation of ${rank} axes`);
  }
  const shape = perm.map((p) => shapeOf(x)[p]);
  if (x.kind === "host") return { kind: "host", tensor: hostTranspose(x.tensor, perm) };
  const value = b.permuted(x);
  const current = permOf(value);
  const candidates = rank === 4 ? [identity(rank), NHWC] : [identity(rank)];
  for (const layout of candidates) {
    const axes = layout.map((a) => current.indexOf(perm[a]));
    if (sameNumbers(axes, identity(rank))) {
      return { kind: "runtime", slot: value.slot, shape, layout: { kind: "perm", perm: layout } };
    }
  }
  const axes = perm.map((p) => current.indexOf(p));
  return b.emit(
    [value],
    shape,
    { kind: "perm", perm: identity(rank) },
    ([t]) => tf.transpose(t, axes),
  );
};

/** Removes unit axes: storage keeps its order, so it is a reshape of the stored tensor. */
function removeAxes(b: PlanBuilder, x: Value, axes: number[]): Value {
  const shape = shapeOf(x).filter((_, i) => !axes.includes(i));
  if (x.kind === "host") return { kind: "host", tensor: { ...x.tensor, shape } };
  const value = b.permuted(x);
  const layout: Layout = { kind: "perm", perm: withoutAxes(permOf(value), axes) };
  const stored = storedDims(shape, layout);
  return b.emit([value], shape, layout, ([t]) => tf.reshape(t, stored));
}

const compileSqueeze: OpCompiler = (b, node, inputs) => {
  const x = b.input(node, inputs, 0);
  const shape = shapeOf(x);
  const given = intsFromAttrOrInput(b, node, inputs, "axes", 1);
  const axes = given
    ? given.map((a) => normalizeAxis(b, node, a, shape.length))
    : identity(shape.length).filter((a) => shape[a] === 1);
  if (axes.some((a) => shape[a] !== 1)) {
    b.fail(node, `cannot squeeze axes [${given}] of [${shape}]`);
  }
  return removeAxes(b, x, axes);
};

/** Inserts unit axes; a permuted tensor gets them at the end of its storage. */
const compileUnsqueeze: OpCompiler = (b, node, inputs) => {
  const x = b.input(node, inputs, 0);
  const inShape = shapeOf(x);
  const given = intsFromAttrOrInput(b, node, inputs, "axes", 1);
  if (!given) return b.fail(node, "axes are missing");
  const rank = inShape.length + given.length;
  const axes = given.map((a) => normalizeAxis(b, node, a, rank));
  const kept = identity(rank).filter((a) => !axes.includes(a));
  const shape = identity(rank).map((a) => (axes.includes(a) ? 1 : inShape[kept.indexOf(a)]));
  if (x.kind === "host") return { kind: "host", tensor: { ...x.tensor, shape } };
  const value = b.permuted(x);
  const perm = permOf(value);
  const layout: Layout = {
    kind: "perm",
    perm: sameNumbers(perm, identity(perm.length))
      ? identity(rank)
      : [...perm.map((a) => kept[a]), ...axes.toSorted((p, q) => p - q)],
  };
  const stored = storedDims(shape, layout);
  return b.emit([value], shape, layout, ([t]) => tf.reshape(t, stored));
};

/** Matrix product with a constant `[K, M]` kernel; `[N, C·H·W]` HWC features permute its rows. */
function denseKernel(
  b: PlanBuilder,
  a: RuntimeValue,
  source: HostTensor,
  variant: string,
  orient: (w: Weight) => Weight,
): { a: RuntimeValue; kernel: Tensor2D } {
  const layout = a.layout;
  if (layout.kind !== "hwcFeatures") {
    return {
      a: b.onnxOrder(a),
      kernel: b.graph.weights.get(source, variant, () => upload2d(orient)),
    };
  }
  const { channels, height, width } = layout;
  return {
    a,
    kernel: b.graph.weights.get(
      source,
      `${variant}:hwc${channels},${height},${width}`,
      () => upload2d((w) => chwRowsToHwc(orient(w), channels, height, width)),
    ),
  };

  function upload2d(make: (w: Weight) => Weight): Tensor2D {
    const k = make(toWeightData(source));
    return tf.tensor2d(k.data, k.shape as [number, number]);
  }
}

const compileGemm: OpCompiler = (b, node, inputs) => {
  const alpha = numberAttr(b, node, "alpha", 1);
  const beta = numberAttr(b, node, "beta", 1);
  const transA = numberAttr(b, node, "transA", 0) === 1;
  const transB = numberAttr(b, node, "transB", 0) === 1;
  const a = b.runtime(b.input(node, inputs, 0));
  const bInput = b.input(node, inputs, 1);
  if (a.shape.length !== 2 || shapeOf(bInput).length !== 2) b.fail(node, "A and B must be 2-D");
  const [rows, depth] = transA ? [a.shape[1], a.shape[0]] : a.shape;
  const bShape = shapeOf(bInput);
  const [bDepth, units] = transB ? [bShape[1], bShape[0]] : bShape;
  if (bDepth !== depth) b.fail(node, `A [${a.shape}] and B [${bShape}] do not multiply`);
  const shape = [rows, units];
  const c = inputs[2];
  let bias: tf.Tensor1D | undefined;
  let addend: RuntimeValue | undefined;
  if (c) {
    broadcastShapes(b, node, shape, shapeOf(c));
    if (
      c.kind === "host" && c.tensor.data.length === units && (c.tensor.shape.at(-1) ?? 1) === units
    ) {
      bias = b.graph.weights.get(
        c.tensor,
        `gemm-bias:${beta}`,
        () => tf.tensor1d(Float32Array.from(c.tensor.data, (v) => v * beta)),
      );
    } else {
      addend = b.onnxOrder(c);
    }
  }
  const extras = addend ? [addend] : [];
  if (bInput.kind === "host" && !(transA && a.layout.kind === "hwcFeatures")) {
    const dense = denseKernel(b, a, bInput.tensor, `gemm:${transB}:${alpha}`, (w) => {
      const k = transB ? linearToDense(w) : w;
      return alpha === 1 ? k : { shape: k.shape, data: k.data.map((v) => v * alpha) };
    });
    const kernel = dense.kernel;
    return b.emit([dense.a, ...extras], shape, { kind: "perm", perm: [0, 1] }, ([x, extra]) => {
      // tfjs 4.22 wasm's fused matMul adds the bias wrongly with transposeA: add it apart.
      const fusedBias = transA ? undefined : bias;
      let y = tf.fused.matMul({
        a: x as Tensor2D,
        b: kernel,
        transposeA: transA,
        bias: fusedBias,
      });
      if (bias && !fusedBias) y = tf.add(y, bias);
      return extra ? tf.add(y, tf.mul(extra, beta)) : y;
    });
  }
  const operands = [b.onnxOrder(a), b.onnxOrder(bInput), ...extras];
  return b.emit(operands, shape, { kind: "perm", perm: [0, 1] }, ([x, y, extra]) => {
    let out = tf.mul(tf.matMul(x, y, transA, transB), alpha);
    if (bias) out = tf.add(out, bias);
    return extra ? tf.add(out, tf.mul(extra, beta)) : out;
  });
};

const compileMatMul: OpCompiler = (b, node, inputs) => {
  const a = b.runtime(b.input(node, inputs, 0));
  const bInput = b.input(node, inputs, 1);
  const bShape = shapeOf(bInput);
  if (bInput.kind === "host" && bShape.length === 2 && a.shape.length >= 1) {
    const [depth, units] = bShape;
    if (a.shape.at(-1) !== depth) b.fail(node, `A [${a.shape}] and B [${bShape}] do not multiply`);
    const { a: left, kernel } = denseKernel(b, a, bInput.tensor, "matmul", (w) => w);
    const lead = a.shape.slice(0, -1);
    return b.emit(
      [left],
      [...lead, units],
      { kind: "perm", perm: identity(lead.length + 1) },
      ([x]) => tf.reshape(tf.matMul(tf.reshape(x, [-1, depth]), kernel), [...lead, units]),
    );
  }
  const ranks = [a.shape.length, bShape.length];
  if (ranks.some((r) => r < 2)) b.fail(node, "1-D operands are only supported against a constant");
  const rank = Math.max(...ranks);
  const expand = (v: Value) => {
    const s = shapeOf(v);
    return [...new Array(rank - s.length).fill(1), ...s];
  };
  const [aShape, bFull] = [expand(a), expand(bInput)];
  if (aShape[rank - 1] !== bFull[rank - 2]) {
    b.fail(node, `A [${a.shape}] and B [${bShape}] do not multiply`);
  }
  const batch = broadcastShapes(b, node, aShape.slice(0, -2), bFull.slice(0, -2));
  const shape = [...batch, aShape[rank - 2], bFull[rank - 1]];
  return b.emit([b.onnxOrder(a), b.onnxOrder(bInput)], shape, {
    kind: "perm",
    perm: identity(rank),
  }, ([x, y]) => tf.matMul(tf.reshape(x, aShape), tf.reshape(y, bFull)));
};

const compilePad: OpCompiler = (b, node, inputs) => {
  const x = b.input(node, inputs, 0);
  const rank = shapeOf(x).length;
  const mode = stringAttr(b, node, "mode", "constant");
  if (mode !== "constant" && mode !== "reflect") b.fail(node, `mode '${mode}' is not supported`);
  const given = intsFromAttrOrInput(b, node, inputs, "pads", 1);
  const axes = inputs[3]
    ? Array.from(b.hostInput(node, inputs, 3, "axes").data, (a) => normalizeAxis(b, node, a, rank))
    : identity(rank);
  if (!given || given.length !== 2 * axes.length) {
    return b.fail(node, `pads [${given}] do not fit rank ${rank}`);
  }
  if (given.some((p) => p < 0)) b.fail(node, `negative pads [${given}] are not supported`);
  const pads = identity(rank).map((): [number, number] => [0, 0]);
  axes.forEach((a, i) => (pads[a] = [given[i], given[i + axes.length]]));
  const constant = b.graph.opset < 11
    ? numberAttr(b, node, "value", 0)
    : inputs[2]
    ? scalarOf(b, node, b.hostInput(node, inputs, 2, "constant_value"), "constant_value")
    : 0;
  const value = b.permuted(x);
  const perm = permOf(value);
  const paddings = perm.map((a) => pads[a]);
  const shape = value.shape.map((d, a) => d + pads[a][0] + pads[a][1]);
  return b.emit(
    [value],
    shape,
    value.layout,
    ([t]) =>
      mode === "reflect" ? tf.mirrorPad(t, paddings, "reflect") : tf.pad(t, paddings, constant),
  );
};

/** Slice parameters normalised per the ONNX spec (clamped starts/ends, per axis). */
function sliceRanges(
  b: PlanBuilder,
  node: OnnxNode,
  inputs: Inputs,
  shape: number[],
): { start: number; step: number; count: number }[] {
  const starts = intsFromAttrOrInput(b, node, inputs, "starts", 1);
  const ends = intsFromAttrOrInput(b, node, inputs, "ends", 2);
  if (!starts || !ends || starts.length !== ends.length) b.fail(node, "starts/ends are missing");
  const axes = (intsFromAttrOrInput(b, node, inputs, "axes", 3) ?? identity(starts.length))
    .map((a) => normalizeAxis(b, node, a, shape.length));
  const steps = (b.graph.opset >= 10 && inputs[4])
    ? Array.from(b.hostInput(node, inputs, 4, "steps").data)
    : axes.map(() => 1);
  const ranges = shape.map((dim) => ({ start: 0, step: 1, count: dim }));
  axes.forEach((axis, i) => {
    const dim = shape[axis];
    const step = steps[i];
    if (step === 0) b.fail(node, "a step of 0 is not allowed");
    let start = starts[i] < 0 ? starts[i] + dim : starts[i];
    let end = ends[i] < 0 ? ends[i] + dim : ends[i];
    if (step > 0) {
      start = Math.min(Math.max(start, 0), dim);
      end = Math.min(Math.max(end, 0), dim);
    } else {
      start = Math.min(Math.max(start, 0), dim - 1);
      end = Math.min(Math.max(end, -1), dim - 1);
    }
    ranges[axis] = { start, step, count: Math.max(0, Math.ceil((end - start) / step)) };
  });
  return ranges;
}

const compileSlice: OpCompiler = (b, node, inputs) => {
  const x = b.input(node, inputs, 0);
  const ranges = sliceRanges(b, node, inputs, shapeOf(x));
  const shape = ranges.map((r) => r.count);
  if (x.kind === "host") {
    const strides = rowStrides(x.tensor.shape);
    const offset = ranges.reduce((sum, r, d) => sum + r.start * strides[d], 0);
    return {
      kind: "host",
      tensor: stridedView(x.tensor, shape, ranges.map((r, d) => r.step * strides[d]), offset),
    };
  }
  if (ranges.some((r) => r.step < 0)) {
    b.fail(node, "negative steps on computed tensors are not supported");
  }
  const value = b.permuted(x);
  const perm = permOf(value);
  const begin = perm.map((a) => ranges[a].start);
  // One past the last element taken, so that it never exceeds the axis.
  const end = perm.map((a) => ranges[a].start + (ranges[a].count - 1) * ranges[a].step + 1);
  const strides = perm.map((a) => ranges[a].step);
  return b.emit([value], shape, value.layout, ([t]) => tf.stridedSlice(t, begin, end, strides));
};

function softmaxAlong(x: Tensor, axis: number): Tensor {
  if (axis === x.rank - 1) return tf.softmax(x);
  const exp = tf.exp(tf.sub(x, tf.max(x, axis, true)));
  return tf.div(exp, tf.sum(exp, axis, true));
}

/** Softmax over one axis (opset ≥ 13) or over all axes from `axis` on (older opsets). */
const compileSoftmax: OpCompiler = (b, node, inputs) => {
  const x = b.input(node, inputs, 0);
  const shape = shapeOf(x);
  const legacy = b.graph.opset < 13;
  const axis = normalizeAxis(b, node, numberAttr(b, node, "axis", legacy ? 1 : -1), shape.length);
  if (legacy && axis !== shape.length - 1) {
    const flat = [product(shape.slice(0, axis)), product(shape.slice(axis))];
    return b.emit(
      [b.onnxOrder(x)],
      shape,
      { kind: "perm", perm: identity(shape.length) },
      ([t]) => tf.reshape(tf.softmax(tf.reshape(t, flat)), shape),
    );
  }
  const value = b.permuted(x);
  const storedAxis = permOf(value).indexOf(axis);
  return b.emit([value], shape, value.layout, ([t]) => softmaxAlong(t, storedAxis));
};

const compileReduceMean: OpCompiler = (b, node, inputs) => {
  const x = b.input(node, inputs, 0);
  const shape = shapeOf(x);
  const given = intsFromAttrOrInput(b, node, inputs, "axes", 1);
  if (!given?.length && numberAttr(b, node, "noop_with_empty_axes", 0) === 1) return x;
  const axes = given?.length
    ? given.map((a) => normalizeAxis(b, node, a, shape.length))
    : identity(shape.length);
  const keepDims = numberAttr(b, node, "keepdims", 1) === 1;
  const value = b.permuted(x);
  const perm = permOf(value);
  const storedAxes = axes.map((a) => perm.indexOf(a));
  const out = keepDims
    ? shape.map((d, a) => (axes.includes(a) ? 1 : d))
    : shape.filter((_, a) => !axes.includes(a));
  const layout: Layout = { kind: "perm", perm: keepDims ? [...perm] : withoutAxes(perm, axes) };
  return b.emit([value], out, layout, ([t]) => tf.mean(t, storedAxes, keepDims));
};

const compileShape: OpCompiler = (b, node, inputs) => {
  const shape = shapeOf(b.input(node, inputs, 0));
  const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + shape.length : v, 0), shape.length);
  const start = clamp(numberAttr(b, node, "start", 0));
  const end = clamp(numberAttr(b, node, "end", shape.length));
  const dims = shape.slice(start, Math.max(start, end));
  return {
    kind: "host",
    tensor: { shape: [dims.length], data: Float64Array.from(dims), integer: true },
  };
};

const compileGather: OpCompiler = (b, node, inputs) => {
  const x = b.input(node, inputs, 0);
  const indices = b.hostInput(node, inputs, 1, "indices");
  const inShape = shapeOf(x);
  const axis = normalizeAxis(b, node, numberAttr(b, node, "axis", 0), inShape.length);
  const dim = inShape[axis];
  const positions = Array.from(indices.data, (i) => {
    if (i < -dim || i >= dim) b.fail(node, `index ${i} is out of range for size ${dim}`);
    return i < 0 ? i + dim : i;
  });
  const shape = [...inShape.slice(0, axis), ...indices.shape, ...inShape.slice(axis + 1)];
  if (x.kind === "host") {
    const parts = positions.map((p) => {
      const strides = rowStrides(x.tensor.shape);
      const partShape = inShape.map((d, a) => (a === axis ? 1 : d));
      return stridedView(x.tensor, partShape, strides, p * strides[axis]);
    });
    const joined = concatHost(b, node, parts, axis);
    return { kind: "host", tensor: { ...joined, shape } };
  }
  const value = b.onnxOrder(x);
  const index = b.graph.weights.get(
    indices,
    `gather:${positions}`,
    () => tf.tensor(Int32Array.from(positions), indices.shape, "int32"),
  );
  return b.emit(
    [value],
    shape,
    { kind: "perm", perm: identity(shape.length) },
    ([t]) => tf.gather(t, index, axis),
  );
};

/** ONNX TensorProto element types that are floating point. */
const FLOAT_TYPES: Set<number> = new Set([1, 10, 11, 16]);

const compileCast: OpCompiler = (b, node, inputs) => {
  const x = b.input(node, inputs, 0);
  const to = numberAttr(b, node, "to", 1);
  if (x.kind === "runtime") {
    if (!FLOAT_TYPES.has(to)) {
      b.fail(node, `casting a computed tensor to type ${to} is not supported`);
    }
    return x;
  }
  const integer = !FLOAT_TYPES.has(to);
  const data = newData(integer, x.tensor.data.length);
  for (let i = 0; i < data.length; i++) {
    const v = x.tensor.data[i];
    data[i] = to === 9 ? Number(v !== 0) : integer ? Math.trunc(v) : v;
  }
  return { kind: "host", tensor: { shape: x.tensor.shape, data, integer } };
};

const compileConstantOfShape: OpCompiler = (b, node, inputs) => {
  const shape = Array.from(b.hostInput(node, inputs, 0, "shape").data);
  const value = node.attributes.value;
  const fill = value && typeof value === "object" && !Array.isArray(value)
    ? fromNamedTensor(value as NamedTensor)
    : hostTensor([1], new Float32Array([0]));
  const data = newData(fill.integer, product(shape));
  data.fill(scalarOf(b, node, fill, "value"));
  return { kind: "host", tensor: { shape, data, integer: fill.integer } };
};

const compileRange: OpCompiler = (b, node, inputs) => {
  const [start, limit, delta] = [0, 1, 2].map((i) => b.hostInput(node, inputs, i, "range bound"));
  const [s, l, d] = [start, limit, delta].map((t) => scalarOf(b, node, t, "range bound"));
  const count = Math.max(Math.ceil((l - s) / d), 0);
  const data = newData(start.integer, count);
  for (let i = 0; i < count; i++) data[i] = s + i * d;
  return { kind: "host", tensor: { shape: [count], data, integer: start.integer } };
};

const passThrough: OpCompiler = (b, node, inputs) => b.input(node, inputs, 0);

const COMPILERS: Record<string, OpCompiler> = {
  Conv: compileConv,
  BatchNormalization: compileBatchNorm,
  Relu: unary(() => tf.relu),
  LeakyRelu: unary((b, node) => {
    const alpha = numberAttr(b, node, "alpha", 0.01);
    return (x) => tf.leakyRelu(x, alpha);
  }),
  Sigmoid: unary(() => tf.sigmoid),
  Clip: unary((b, node, inputs) => {
    const [low, high] = clipBounds(b, node, inputs);
    return (x) => tf.clipByValue(x, low, high);
  }),
  HardSigmoid: unary((b, node) =>
    hardSigmoid(numberAttr(b, node, "alpha", 0.2), numberAttr(b, node, "beta", 0.5))
  ),
  HardSwish: unary(() => {
    const gate = hardSigmoid(1 / 6, 0.5);
    return (x) => tf.mul(x, gate(x));
  }),
  Add: compileArithmetic,
  Sub: compileArithmetic,
  Mul: compileArithmetic,
  Div: compileArithmetic,
  Concat: compileConcat,
  MaxPool: compileMaxPool,
  AveragePool: compileAveragePool,
  GlobalAveragePool: globalPool((x) => tf.mean(x, [1, 2], true)),
  GlobalMaxPool: globalPool((x) => tf.max(x, [1, 2], true)),
  Flatten: compileFlatten,
  Reshape: compileReshape,
  Transpose: compileTranspose,
  Squeeze: compileSqueeze,
  Unsqueeze: compileUnsqueeze,
  Gemm: compileGemm,
  MatMul: compileMatMul,
  Pad: compilePad,
  Slice: compileSlice,
  Softmax: compileSoftmax,
  ReduceMean: compileReduceMean,
  Dropout: passThrough,
  Identity: passThrough,
  Shape: compileShape,
  Gather: compileGather,
  Cast: compileCast,
  ConstantOfShape: compileConstantOfShape,
  Range: compileRange,
};

// ---------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------

/** A Constant node's value, from whichever `value*` attribute it has. */
function constantNodeValue(file: string, opset: number, node: OnnxNode): HostTensor {
  const [name, value] = Object.entries(node.attributes)[0] ?? [];
  if (typeof value === "object" && !Array.isArray(value)) return fromNamedTensor(value);
  if (name === "value_float" && typeof value === "number") {
    return hostTensor([], new Float32Array([value]));
  }
  if (name === "value_floats" && Array.isArray(value)) {
    return hostTensor([value.length], Float32Array.from(value as number[]));
  }
  if (name === "value_int" && typeof value === "number") {
    return hostTensor([], new Float64Array([value]));
  }
  if (name === "value_ints" && Array.isArray(value)) {
    return hostTensor([value.length], Float64Array.from(value as number[]));
  }
  throw new ZooFormatError(
    file,
    `${nodeLabel(node)}, opset ${opset}): attribute '${name}' is not a supported constant`,
  );
}

function compile(graph: LoadedGraph, inputShape: number[]): Plan {
  const b = new PlanBuilder(graph);
  const inputSlot = b.newSlot();
  const entry: RuntimeValue = {
    kind: "runtime",
    slot: inputSlot,
    shape: inputShape,
    layout: { kind: "perm", perm: identity(inputShape.length) },
  };
  b.values.set(graph.inputName, inputShape.length === 4 ? b.inLayout(entry, NHWC) : entry);
  for (const [name, tensor] of graph.constants) b.values.set(name, { kind: "host", tensor });
  for (const node of graph.nodes) {
    if (b.absorbed.has(node) || node.opType === "Constant") continue;
    const inputs = node.inputs.map((name) => {
      if (!name) return undefined;
      const value = b.values.get(name);
      if (!value) b.fail(node, `input '${name}' is not produced by any earlier node`);
      return value;
    });
    for (const extra of node.outputs.slice(1)) {
      if (extra && (graph.consumers.get(extra)?.length || graph.graphOutputs.has(extra))) {
        b.fail(node, `output '${extra}' is used, but only the first output is supported`);
      }
    }
    b.values.set(node.outputs[0], COMPILERS[node.opType](b, node, inputs));
  }
  const result = b.values.get(graph.outputName);
  if (!result) {
    throw new ZooFormatError(graph.file, `graph output '${graph.outputName}' is never produced`);
  }
  return b.finish(result, inputSlot);
}

function runPlan(plan: Plan, x: Tensor): Tensor {
  return tf.tidy(() => {
    const slots = new Array<Tensor | undefined>(plan.slotCount);
    slots[plan.inputSlot] = x.dtype === "float32" ? x : tf.cast(x, "float32");
    for (const [slot, tensor] of plan.constants) slots[slot] = tensor;
    plan.steps.forEach((step, i) => {
      const args = step.inputs.map((slot) => slots[slot]!);
      slots[step.output] = tf.tidy(() => step.run(args));
      for (const slot of plan.release[i]) {
        slots[slot]!.dispose();
        slots[slot] = undefined;
      }
    });
    return slots[plan.outputSlot]!;
  });
}

/**
 * Prepares an ONNX model for inference on the current tfjs backend. Operators are checked
 * here, and a model with a static input shape is compiled (shape subgraphs folded, weights
 * converted and uploaded) here too; a model with symbolic input dimensions is compiled on
 * each new input shape.
 *
 * @param model The parsed model ({@link readOnnx} in `../formats/onnx.ts`).
 * @param file The model's path, named in errors.
 * @throws {ZooFormatError} If an operator is not supported (naming its type, node and the
 * opset), the graph does not have exactly one non-constant input, or — for static shapes —
 * a node's attributes or constant inputs are unusable.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { readOnnx } from "../formats/onnx.ts";
 * const file = "testdata/fixtures/nets/tv_bottleneck_op9.onnx";
 * const graph = loadOnnxGraph(readOnnx(await Deno.readFile(file), file), file);
 * console.log(graph.inputName, graph.inputShape); // input ["batch", 3, "height", "width"]
 * const logits = graph.predict(tf.randomNormal([1, 3, 64, 64]));
 * console.log(logits.shape); // [1, 10]
 * graph.dispose();
 * ```
 */
export function loadOnnxGraph(model: OnnxModel, file: string): OnnxGraphModel {
  const { graph, opset } = model;
  const unsupported = graph.nodes.filter((node) =>
    (node.domain !== "" && node.domain !== "ai.onnx") ||
    !(Object.hasOwn(COMPILERS, node.opType) || node.opType === "Constant")
  );
  if (unsupported.length) {
    const byType = Map.groupBy(unsupported, (n) => `${n.domain ? `${n.domain}.` : ""}${n.opType}`);
    const list = [...byType].map(([type, nodes]) => {
      const more = nodes.length > 1 ? ` and ${nodes.length - 1} more` : "";
      return `${type} (node '${nodes[0].name || nodes[0].outputs[0]}'${more})`;
    });
    throw new ZooFormatError(
      file,
      `unsupported operator${list.length > 1 ? "s" : ""} at opset ${opset}: ${list.join(", ")}`,
    );
  }
  if (graph.inputs.length !== 1) {
    throw new ZooFormatError(
      file,
      `graph has ${graph.inputs.length} non-constant inputs; exactly one is supported`,
    );
  }
  if (!graph.outputs.length) throw new ZooFormatError(file, "graph has no outputs");
  const [input] = graph.inputs;

  const constants = new Map<string, HostTensor>();
  for (const [name, tensor] of graph.initializers) constants.set(name, fromNamedTensor(tensor));
  const consumers = new Map<string, OnnxNode[]>();
  for (const node of graph.nodes) {
    if (node.opType === "Constant") {
      constants.set(node.outputs[0], constantNodeValue(file, opset, node));
    }
    for (const name of new Set(node.inputs)) {
      if (name) consumers.set(name, [...(consumers.get(name) ?? []), node]);
    }
  }
  const loaded: LoadedGraph = {
    file,
    opset,
    nodes: graph.nodes,
    inputName: input.name,
    outputName: graph.outputs[0].name,
    constants,
    consumers,
    graphOutputs: new Set(graph.outputs.map((o) => o.name)),
    weights: new WeightCache(),
  };

  const plans = new Map<string, Plan>();
  const planFor = (shape: number[]): Plan => {
    const key = shape.join(",");
    let plan = plans.get(key);
    if (!plan) plans.set(key, plan = compile(loaded, shape));
    return plan;
  };
  const declared = input.shape;
  const isStatic = declared.length > 0 && declared.every((d) => typeof d === "number" && d > 0);
  if (isStatic) {
    try {
      planFor(declared as number[]);
    } catch (error) {
      loaded.weights.dispose();
      throw error;
    }
  }

  let disposed = false;
  return {
    inputName: input.name,
    inputShape: [...declared],
    predict(x: Tensor): Tensor {
      if (disposed) throw new Error(`${file}: the model was disposed`);
      const fits = declared.length === 0 ||
        (x.rank === declared.length &&
          declared.every((d, i) => typeof d !== "number" || d <= 0 || d === x.shape[i]));
      if (!fits) {
        throw new Error(
          `${file}: input '${input.name}' is declared [${declared}], got shape [${x.shape}]`,
        );
      }
      return runPlan(planFor(x.shape), x);
    },
    dispose(): void {
      disposed = true;
      loaded.weights.dispose();
      plans.clear();
    },
  };
}
